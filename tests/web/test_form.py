"""The task form (/tasks/new, /tasks/{id}/edit): saves through the services and shows the loader's
messages next to the fields, for every rule."""
import pytest

from tasks_app.models import ConfigVersion, Task

from .conftest import form_data


def errors_of(response):
    return response.context["form"].errors


def test_the_new_task_form_has_every_part(as_operator, task):
    html = as_operator.get("/tasks/new").content.decode()
    for part in ('name="task_schedule"', 'class="form-select form-select-sm cron-template"', "Every 5 minutes",
                 "Weekdays (Mon–Fri) at…", 'name="task_env-key"', 'name="task_env-value"', "kv-add",
                 '<option value="tasks/test_task.py">', 'name="task_timeout"', 'name="task_retry"',
                 'name="task_retry_interval"', 'name="task_overlap"', 'name="task_misfire_grace"',
                 'name="task_timezone"', '<option value="Asia/Shanghai">', 'name="task_dependencies"',
                 '<option value="test-task">', 'name="notify_on_success"', 'name="notify_on_failure"',
                 'name="notify_email"', 'name="notify_webhook"', "cron-preview"):
        assert part in html, part


def test_an_operator_creates_a_task_with_parameters_and_notifications(as_operator, web_log):
    version = ConfigVersion.current()
    response = as_operator.post("/tasks/new", form_data())
    assert response.status_code == 302 and response["Location"] == "/tasks/nightly/view"
    task = Task.objects.get(task_id="nightly")
    assert task.task_schedule == "30 2 * * *"
    assert task.task_env == {"PARAM1": "值1", "DISPLAY_COLOR": "blue"}
    assert task.task_timeout == 300 and task.task_retry == 2 and task.task_retry_interval == 30
    assert task.task_notify == {"on_success": False, "on_failure": True, "email": "ops@example.com"}
    assert task.task_log == "logs/task_nightly.log"
    assert ConfigVersion.current() > version
    assert "otto created task nightly" in web_log.text
    page = as_operator.get(response["Location"]).content.decode()
    assert "Task nightly saved." in page


def test_empty_key_value_rows_are_ignored(as_operator):
    as_operator.post("/tasks/new", form_data(**{"task_env-key": ["", "A"], "task_env-value": ["", "1"]}))
    assert Task.objects.get(task_id="nightly").task_env == {"A": "1"}


def test_the_edit_form_shows_the_task_and_saves_changes(as_operator, task):
    html = as_operator.get(f"/tasks/{task.task_id}/edit").content.decode()
    assert 'value="*/3 * * * *"' in html and 'value="PARAM1"' in html and "值1" in html
    response = as_operator.post(f"/tasks/{task.task_id}/edit", form_data(
        task_id="renamed", task_name="测试任务 v2", task_schedule="0 * * * *", **{"task_env-key": ["ONLY"], "task_env-value": ["x"]}))
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.task_id == "test-task"  # the id field is disabled: a posted id is ignored
    assert task.task_name == "测试任务 v2" and task.task_schedule == "0 * * * *" and task.task_env == {"ONLY": "x"}


def test_a_chain_task_picks_its_dependency_among_existing_tasks(as_operator, task):
    response = as_operator.post("/tasks/new", form_data(task_schedule="", task_dependencies=["test-task"]))
    assert response.status_code == 302
    assert Task.objects.get(task_id="nightly").task_dependencies == ["test-task"]


# ---- every validation error lands next to its field, with the loader's words ------------------------------------

@pytest.mark.parametrize(
    "changes, field, fragment",
    [
        ({"task_id": ""}, "task_id", "required"),
        ({"task_id": "bad id!"}, "task_id", "bad id!"),
        ({"task_id": "x" * 65}, "task_id", "x" * 20),
        ({"task_name": ""}, "task_name", "required"),
        ({"task_schedule": "61 * * * *"}, "task_schedule", "61"),
        ({"task_schedule": "* * *"}, "task_schedule", "* * *"),
        ({"task_schedule": ""}, "task_schedule", "required unless the task has dependencies"),
        ({"task_exec": "tasks/missing.py"}, "task_exec", ""),
        ({"task_exec": ""}, "task_exec", "required"),
        ({"task_timeout": "0"}, "task_timeout", "0"),
        ({"task_timeout": "abc"}, "task_timeout", "whole number"),
        ({"task_retry": "-1"}, "task_retry", "-1"),
        ({"task_retry": "101"}, "task_retry", "101"),
        ({"task_retry_interval": "-5"}, "task_retry_interval", "-5"),
        ({"task_misfire_grace": "-1"}, "task_misfire_grace", "-1"),
        ({"task_overlap": "explode"}, "task_overlap", "explode"),
        ({"task_timezone": "Mars/Olympus"}, "task_timezone", "Mars/Olympus"),
        ({"task_log": "../../etc/passwd"}, "task_log", "../../etc/passwd"),
        ({"task_log": "logs/sys.log"}, "task_log", "sys.log"),
        ({"task_env-key": ["1BAD"], "task_env-value": ["v"]}, "task_env", "1BAD"),
        ({"task_env-key": ["PYTHONPATH"], "task_env-value": ["/tmp"]}, "task_env", "PYTHONPATH"),
        ({"task_env-key": ["TASK_ID"], "task_env-value": ["x"]}, "task_env", "TASK_ID"),
        ({"task_env-key": ["A", "A"], "task_env-value": ["1", "2"]}, "task_env", "twice"),
        ({"task_env-key": [""], "task_env-value": ["orphan"]}, "task_env", "orphan"),
        ({"task_dependencies": ["ghost"]}, "task_dependencies", "ghost"),
        ({"notify_email": "not-an-address"}, "notify_email", "not-an-address"),
        # A webhook URL is a secret: named by scheme and host only.
        ({"notify_webhook": "ftp://example.com/hook"}, "notify_webhook", "ftp://example.com/..."),
    ],
)
def test_each_bad_value_is_refused_next_to_its_field(as_operator, task, changes, field, fragment):
    response = as_operator.post("/tasks/new", form_data(**changes))
    assert response.status_code == 400
    errors = errors_of(response)
    assert field in errors, errors
    assert fragment in " ".join(errors[field]), errors[field]
    html = response.content.decode()
    assert "Please correct the fields marked below." in html
    assert "invalid-feedback" in html
    assert not Task.objects.filter(task_id="nightly").exists()


def test_a_duplicate_id_is_refused_on_task_id(as_operator, task):
    response = as_operator.post("/tasks/new", form_data(task_id="test-task"))
    assert response.status_code == 400
    assert "already exists" in " ".join(errors_of(response)["task_id"])


def test_a_dependency_cycle_is_refused_with_its_path(as_operator, make_task):
    make_task("a", task_schedule="* * * * *")
    make_task("b", task_schedule="", task_dependencies=["a"])
    response = as_operator.post("/tasks/a/edit", form_data(task_dependencies=["b"]))
    assert response.status_code == 400
    assert "a -> b -> a" in " ".join(errors_of(response)["task_dependencies"])


def test_a_task_cannot_depend_on_itself(as_operator, task):
    response = as_operator.post("/tasks/test-task/edit", form_data(task_dependencies=["test-task"]))
    assert response.status_code == 400
    assert "itself" in " ".join(errors_of(response)["task_dependencies"])


def test_all_problems_show_at_once_and_the_advanced_part_opens(as_operator):
    response = as_operator.post("/tasks/new", form_data(task_schedule="99 * * * *", task_timeout="x", task_retry="-3"))
    errors = errors_of(response)
    assert {"task_schedule", "task_timeout", "task_retry"} <= set(errors)
    assert '<details class="card mb-3 advanced-options" id="advanced" open>' in response.content.decode()


def test_the_form_keeps_what_was_typed_after_an_error(as_operator):
    response = as_operator.post("/tasks/new", form_data(task_schedule="bad", **{"task_env-key": ["KEEP"], "task_env-value": ["me"]}))
    html = response.content.decode()
    assert 'value="KEEP"' in html and 'value="me"' in html and 'value="bad"' in html


def test_a_refused_form_is_logged_with_the_user_and_the_fields(as_operator, web_log):
    as_operator.post("/tasks/new", form_data(task_schedule="bad"))
    assert "otto submitted an invalid task form: task_schedule" in web_log.text


def test_with_very_many_tasks_dependencies_are_typed_as_ids(as_operator, make_task, monkeypatch):
    from tasks_app.web import forms

    monkeypatch.setattr(forms, "DEPENDENCY_SELECT_LIMIT", 1)
    make_task("first")
    make_task("second")
    html = as_operator.get("/tasks/new").content.decode()
    assert 'type="text" name="task_dependencies"' in html and "Task IDs separated by commas." in html
    response = as_operator.post("/tasks/new", form_data(task_schedule="", task_dependencies="first, second"))
    assert response.status_code == 302
    assert Task.objects.get(task_id="nightly").task_dependencies == ["first", "second"]
    edit = as_operator.get("/tasks/nightly/edit").content.decode()
    assert 'value="first, second"' in edit


def test_json_nested_past_the_recursion_limit_is_refused_next_to_its_field_not_a_500(as_operator):
    response = as_operator.post("/tasks/new", form_data(task_alerts="[" * 100_000 + "]" * 100_000))
    assert response.status_code == 400 and "task_alerts" in errors_of(response)
    assert not Task.objects.filter(task_id="nightly").exists()
