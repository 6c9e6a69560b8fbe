"""TaskLoader: each rule refuses bad input with an error on the right field whose message shows the bad value."""
import json
import os
from pathlib import Path

import pytest
from django.conf import settings

from tasks_app.definition.fields import FIELD, TASK_FIELDS
from tasks_app.definition.loader import TaskFileError, TaskLoader, TaskValidationError
from tasks_app.definition.paths import resolve_exec_path, resolve_log_path

NO_TASKS = {}


def refuse(data, field, *fragments, existing=NO_TASKS, **kwargs):
    """Clean `data`, expect a refusal on `field` with a message holding every fragment; return the messages."""
    with pytest.raises(TaskValidationError) as caught:
        TaskLoader().clean(data, existing=existing, **kwargs)
    errors = caught.value.errors
    assert field in errors, errors
    text = " ".join(errors[field])
    for fragment in fragments:
        assert fragment in text, text
    return errors[field]


# ---- what passes ------------------------------------------------------------------------------------------------


def test_it_accepts_the_documents_example_as_written(tasks_dir, example):
    cleaned = TaskLoader().clean(example, existing=NO_TASKS)
    for name, value in example.items():
        assert cleaned[name] == value
    assert list(cleaned) == list(TASK_FIELDS)


def test_it_loads_the_shipped_conf_file_against_the_real_tasks_folder():
    tasks = TaskLoader().load_file(Path(settings.BASE_DIR) / "conf" / "tasks.json")
    assert [t["task_id"] for t in tasks] == ["test-task"]
    assert tasks[0]["task_env"]["PARAM1"] == "值1"


def test_it_fills_the_documents_defaults_in_field_order(tasks_dir, minimal):
    cleaned = TaskLoader().clean(minimal("plain"), existing=NO_TASKS)
    assert list(cleaned) == list(TASK_FIELDS)
    documents = {
        "task_id": "plain", "task_name": "Task plain", "task_desc": "", "task_exec": "tasks/test_task.py",
        "task_schedule": "*/5 * * * *", "task_timeout": None, "task_retry": 0, "task_retry_interval": 60,
        "task_enabled": True, "task_log": "logs/task_plain.log", "task_env": {}, "task_dependencies": [],
        "task_notify": {}, "task_timezone": "", "task_overlap": "skip", "task_misfire_grace": 60,
    }
    # A field added since then takes its default from the field table.
    assert cleaned == {**{name: FIELD[name].default for name in TASK_FIELDS}, **documents}


def test_it_does_not_share_default_objects_between_tasks(tasks_dir, minimal):
    first = TaskLoader().clean(minimal("a"), existing=NO_TASKS)
    first["task_env"]["X"] = "1"
    assert TaskLoader().clean(minimal("b"), existing=NO_TASKS)["task_env"] == {}


def test_it_accepts_a_chain_task_with_dependencies_and_no_schedule(tasks_dir, minimal):
    cleaned = TaskLoader().clean(minimal("b", task_schedule="", task_dependencies=["a"]), existing={"a": []})
    assert cleaned["task_schedule"] == "" and cleaned["task_dependencies"] == ["a"]


def test_it_normalizes_the_spaces_of_a_cron_expression(tasks_dir, minimal):
    assert TaskLoader().clean(minimal(task_schedule="  0   9 * *  1-5 "), existing=NO_TASKS)["task_schedule"] == (
        "0 9 * * 1-5"
    )


# ---- required fields and types ----------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["task_id", "task_name", "task_exec"])
def test_it_requires_the_documents_mandatory_fields(tasks_dir, minimal, field):
    data = minimal()
    del data[field]
    refuse(data, field, f"{field} is required")


def test_it_requires_a_schedule_unless_the_task_has_dependencies(tasks_dir, minimal):
    refuse(minimal(task_schedule=""), "task_schedule", "task_schedule is required unless")
    data = minimal()
    del data["task_schedule"]
    refuse(data, "task_schedule", "required")


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("task_name", 42, "task_name must be text, got an integer 42"),
        ("task_name", "   ", 'task_name must not be blank, got "   "'),
        ("task_name", "x" * 201, "at most 200"),
        ("task_desc", ["a"], 'task_desc must be text, got a list ["a"]'),
        ("task_timeout", "300", 'task_timeout must be an integer, got text "300"'),
        ("task_timeout", 0, "task_timeout must be between 1 and 2147483647, got 0"),
        ("task_timeout", 2**31, "got 2147483648"),
        ("task_timeout", 1.5, "task_timeout must be an integer, got a number 1.5"),
        ("task_retry", True, "task_retry must be an integer, got a boolean true"),
        ("task_retry", -1, "task_retry must be between 0 and 100, got -1"),
        ("task_retry", 101, "got 101"),
        ("task_retry_interval", None, "task_retry_interval must be an integer, got null"),
        ("task_retry_interval", -5, "got -5"),
        ("task_misfire_grace", -1, "task_misfire_grace must be between 0 and"),
        ("task_enabled", "true", 'task_enabled must be true or false, got text "true"'),
        ("task_enabled", 1, "got an integer 1"),
        ("task_overlap", "never", 'task_overlap "never" is not one of skip, queue, replace, allow'),
        ("task_timezone", "Mars/Olympus", 'task_timezone "Mars/Olympus" is not a known IANA time zone'),
        ("task_timezone", "../../etc/passwd", '"../../etc/passwd" is not a known IANA time zone'),
        ("task_env", ["A=1"], 'task_env must be an object of names to text values, got a list.'),
        ("task_dependencies", "a,b", 'task_dependencies must be a list of task ids, got text "a,b"'),
        ("task_notify", "admin@example.com", 'task_notify must be an object, got text.'),
        ("task_log", 7, "task_log must be text, got an integer 7"),
    ],
)
def test_it_refuses_a_wrong_type_or_range_naming_the_field_and_the_value(tasks_dir, minimal, field, value, fragment):
    refuse(minimal(**{field: value}), field, fragment)


def test_it_accepts_a_null_timeout_and_the_limits_of_each_range(tasks_dir, minimal):
    cleaned = TaskLoader().clean(
        minimal(task_timeout=None, task_retry=100, task_retry_interval=0, task_misfire_grace=0), existing=NO_TASKS
    )
    assert (cleaned["task_timeout"], cleaned["task_retry"], cleaned["task_retry_interval"]) == (None, 100, 0)


def test_it_names_every_unknown_field(tasks_dir, minimal):
    with pytest.raises(TaskValidationError) as caught:
        TaskLoader().clean(minimal(schedule="* * * * *", owner="me"), existing=NO_TASKS)
    assert caught.value.errors["schedule"] == ['Unknown field "schedule".']
    assert caught.value.errors["owner"] == ['Unknown field "owner".']


def test_it_refuses_something_that_is_not_an_object(tasks_dir):
    refuse(["task_id", "x"], "task", 'A task must be a JSON object, got ["task_id", "x"]')


# ---- task_id ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["has space", "a/b", "x" * 65, "ü", "a.b"])
def test_it_refuses_a_task_id_outside_the_pattern(tasks_dir, minimal, bad):
    refuse(minimal(bad), "task_id", f'task_id "{bad[:60]}', "letters, digits, '-' or '_'")


def test_it_refuses_a_task_id_that_already_exists_when_creating(tasks_dir, minimal):
    refuse(minimal("dup"), "task_id", 'task_id "dup" already exists', existing={"dup": []})


def test_it_refuses_changing_the_task_id_of_an_existing_task(tasks_dir, minimal):
    refuse(minimal("new-name"), "task_id", 'cannot be changed (it is "old", got "new-name")',
           existing={"old": []}, instance_id="old")


def test_it_accepts_an_edit_that_keeps_the_task_id(tasks_dir, minimal):
    assert TaskLoader().clean(minimal("same"), existing={"same": []}, instance_id="same")["task_id"] == "same"


# ---- task_schedule ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression, fragment",
    [
        ("61 * * * *", "minute"),
        ("* * * *", "expected 5 fields"),
        ("*/0 * * * *", "step"),
        ("0 0 32 * *", "day of month"),
        ("@reboot", "@reboot"),
        ("0 0 * * funday", "day of week"),
    ],
)
def test_it_refuses_an_invalid_cron_expression_on_task_schedule(tasks_dir, minimal, expression, fragment):
    refuse(minimal(task_schedule=expression), "task_schedule", f'task_schedule "{expression}" is not a valid cron',
           fragment)


# ---- task_exec --------------------------------------------------------------------------------------------------


def test_it_accepts_the_script_relative_to_the_tasks_folder_or_in_the_documents_form(tasks_dir, minimal):
    for written in ("tasks/test_task.py", "test_task.py"):
        assert TaskLoader().clean(minimal(task_exec=written), existing=NO_TASKS)["task_exec"] == written
        assert resolve_exec_path(written) == tasks_dir / "test_task.py"


def test_it_accepts_a_script_in_a_subfolder_and_any_file_name(tasks_dir, minimal):
    (tasks_dir / "jobs").mkdir()
    (tasks_dir / "jobs" / "backup").write_text("print('hi')\n")
    assert TaskLoader().clean(minimal(task_exec="jobs/backup"), existing=NO_TASKS)["task_exec"] == "jobs/backup"


@pytest.mark.parametrize(
    "written, reason",
    [
        ("/etc/passwd", "not a relative path"),
        ("../conf/tasks.json", "not a relative path"),
        ("tasks/../../etc/passwd", "not a relative path"),
        ("missing.py", "no such file"),
        ("tasks/missing.py", "no such file"),
        ("", "task_exec is required"),
    ],
)
def test_it_refuses_a_script_outside_the_tasks_folder_or_missing(tasks_dir, minimal, written, reason):
    messages = refuse(minimal(task_exec=written), "task_exec", reason)
    if written:
        assert f'"{written}"' in messages[0]


def test_it_refuses_a_folder_as_script(tasks_dir, minimal):
    (tasks_dir / "sub").mkdir()
    refuse(minimal(task_exec="sub"), "task_exec", '"sub"', "not a regular file")


def test_it_refuses_a_symlink_that_leads_outside_the_tasks_folder(tasks_dir, minimal, tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("print('escaped')\n")
    (tasks_dir / "innocent.py").symlink_to(outside)
    (tasks_dir / "linked_dir").symlink_to(tmp_path, target_is_directory=True)
    refuse(minimal(task_exec="innocent.py"), "task_exec", '"innocent.py"', "leads outside the tasks folder")
    refuse(minimal(task_exec="tasks/linked_dir/outside.py"), "task_exec", "leads outside the tasks folder")


def test_it_accepts_a_symlink_that_stays_inside_the_tasks_folder(tasks_dir, minimal):
    (tasks_dir / "alias.py").symlink_to(tasks_dir / "test_task.py")
    assert TaskLoader().clean(minimal(task_exec="alias.py"), existing=NO_TASKS)["task_exec"] == "alias.py"


def test_it_refuses_a_dangling_symlink(tasks_dir, minimal, tmp_path):
    (tasks_dir / "gone.py").symlink_to(tasks_dir / "nowhere.py")
    refuse(minimal(task_exec="gone.py"), "task_exec", '"gone.py"')


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_it_refuses_a_script_the_engine_cannot_read(tasks_dir, minimal):
    secret = tasks_dir / "locked.py"
    secret.write_text("print(1)\n")
    secret.chmod(0)
    refuse(minimal(task_exec="locked.py"), "task_exec", "not readable")


# ---- task_log ---------------------------------------------------------------------------------------------------


def test_it_keeps_a_task_log_inside_the_logs_folder(tasks_dir, minimal, settings):
    for written in ("logs/custom.log", "custom.log", "logs/sub/custom.log"):
        assert TaskLoader().clean(minimal(task_log=written), existing=NO_TASKS)["task_log"] == written
    assert resolve_log_path("logs/custom.log") == Path(settings.LOGS_DIR).resolve() / "custom.log"
    assert resolve_log_path("", task_id="t1") == Path(settings.LOGS_DIR).resolve() / "task_t1.log"


@pytest.mark.parametrize(
    "written, reason",
    [
        ("/var/log/syslog", "not a relative path"),
        ("logs/../conf/tasks.json", "not a relative path"),
        ("sys.log", "the engine's own log"),
        ("logs/sys.log.1", "the engine's own log"),
        ("executions/1/2.out", "captured outputs"),
    ],
)
def test_it_refuses_a_task_log_that_escapes_or_hits_the_engines_files(tasks_dir, minimal, written, reason):
    refuse(minimal(task_log=written), "task_log", f'task_log "{written}"', reason)


def test_it_refuses_a_task_log_through_a_symlink_leading_out(tasks_dir, minimal, settings, tmp_path):
    (Path(settings.LOGS_DIR) / "out").symlink_to(tmp_path, target_is_directory=True)
    refuse(minimal(task_log="logs/out/x.log"), "task_log", "leads outside the logs folder")


# ---- task_env ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, reason",
    [
        ("1ABC", "not a valid environment variable name"),
        ("MY-VAR", "not a valid environment variable name"),
        ("A B", "not a valid environment variable name"),
        ("", "not a valid environment variable name"),
        ("TASK_ID", "set by the engine"),
        ("TASK_EXECUTION_ID", "set by the engine"),
        ("TASK_LOG", "set by the engine"),
        ("TASK_SCHEDULED_TIME", "set by the engine"),
        ("LD_PRELOAD", "the dynamic loader"),
        ("PYTHONPATH", "Python"),
        ("path", "which program a command name runs"),
        ("Http_Proxy", "network traffic"),
    ],
)
def test_it_refuses_bad_or_reserved_env_names(tasks_dir, minimal, key, reason):
    refuse(minimal(task_env={key: "v"}), "task_env", f'task_env name "{key}"', reason)


def test_it_lets_a_task_set_task_name_as_the_document_does(tasks_dir, minimal):
    assert TaskLoader().clean(minimal(task_env={"TASK_NAME": "x"}), existing=NO_TASKS)["task_env"] == {"TASK_NAME": "x"}


def test_it_refuses_a_non_text_env_value_without_showing_any_value(tasks_dir, minimal):
    messages = refuse(minimal(task_env={"PORT": 8080, "PASSWORD": ["hunter2"], "OK": "fine"}), "task_env",
                      'task_env value of "PORT" must be text, got an integer',
                      'task_env value of "PASSWORD" must be text, got a list')
    assert "8080" not in " ".join(messages) and "hunter2" not in " ".join(messages)


# ---- task_dependencies --------------------------------------------------------------------------------------------


def test_it_refuses_unknown_self_and_repeated_dependencies(tasks_dir, minimal):
    refuse(minimal("a", task_dependencies=["ghost"]), "task_dependencies", '"ghost", which is not a known task')
    refuse(minimal("a", task_dependencies=["a"]), "task_dependencies", 'cannot depend on itself ("a")')
    refuse(minimal("a", task_dependencies=["b", "b"]), "task_dependencies", 'names "b" twice', existing={"b": []})
    refuse(minimal("a", task_dependencies=[3]), "task_dependencies", "item 3 is not a task id")


def test_it_refuses_a_dependency_cycle_and_shows_its_path(tasks_dir, minimal):
    existing = {"b": ["c"], "c": ["a"], "a": []}
    refuse(minimal("a", task_dependencies=["b"]), "task_dependencies", "cycle: a -> b -> c -> a",
           existing=existing, instance_id="a")


def test_it_follows_a_long_chain_without_recursion_trouble(tasks_dir, minimal):
    existing = {f"t{i}": [f"t{i + 1}"] for i in range(5000)}
    existing["t5000"] = ["end"]
    existing["end"] = []
    refuse(minimal("end", task_dependencies=["t0"]), "task_dependencies", "cycle: end -> t0 -> t1",
           existing=existing, instance_id="end")


# ---- task_notify --------------------------------------------------------------------------------------------------


def test_it_accepts_notify_settings_with_a_list_of_addresses_and_a_webhook(tasks_dir, minimal):
    notify = {"on_success": True, "on_failure": False, "email": "a@example.com, b@example.org",
              "webhook": "https://hooks.example.com/x?y=1"}
    cleaned = TaskLoader().clean(minimal(task_notify=notify), existing=NO_TASKS)["task_notify"]
    # The webhook is a secret: sealed, with what anyone may see of it beside.
    hook = cleaned.pop("webhook")
    assert cleaned == {key: value for key, value in notify.items() if key != "webhook"}
    assert hook["shown"] == "https://hooks.example.com/..." and hook["encrypted"].startswith("gAAAA")


@pytest.mark.parametrize(
    "notify, fragment",
    [
        ({"email": "not-an-address"}, 'task_notify.email "not-an-address" is not a valid e-mail address'),
        ({"email": "a@example.com, bad@"}, '"bad@" is not a valid e-mail address'),
        # Shown by scheme and host only: the rest of a webhook URL is its secret.
        ({"webhook": "ftp://example.com/x"}, 'task_notify.webhook "ftp://example.com/..." is not a valid http'),
        ({"webhook": "javascript:alert(1)"}, 'task_notify.webhook "***" is not a valid http'),
        ({"on_failure": "yes"}, 'task_notify.on_failure must be true or false, got text "yes"'),
        ({"email": 5}, "task_notify.email must be text, got an integer 5"),
        ({"sms": "+123"}, 'Unknown field "task_notify.sms"'),
    ],
)
def test_it_refuses_bad_notify_settings(tasks_dir, minimal, notify, fragment):
    refuse(minimal(task_notify=notify), "task_notify", fragment)


# ---- several problems, files ------------------------------------------------------------------------------------


def test_it_reports_every_problem_of_one_task_at_once(tasks_dir, minimal):
    with pytest.raises(TaskValidationError) as caught:
        TaskLoader().clean(minimal("bad id", task_schedule="nope", task_retry=-1, task_exec="/bin/sh"),
                           existing=NO_TASKS)
    assert set(caught.value.errors) == {"task_id", "task_schedule", "task_retry", "task_exec"}


def test_clean_many_lists_every_problem_of_every_task(tasks_dir, minimal):
    items = [
        minimal("good"),
        minimal("x", task_schedule="99 * * * *", task_retry="3"),
        minimal("good", task_exec="/etc/passwd"),
        minimal("y", task_dependencies=["ghost"], task_env={"LD_PRELOAD": "z"}),
        "not a task",
    ]
    with pytest.raises(TaskFileError) as caught:
        TaskLoader().clean_many(items, existing=NO_TASKS)
    problems = {(task_id, field) for task_id, field, _message in caught.value.problems}
    assert problems == {
        ("x", "task_schedule"), ("x", "task_retry"),
        ("good", "task_exec"), ("good", "task_id"),
        ("y", "task_dependencies"), ("y", "task_env"),
        ("#5", "task"),
    }
    assert 'task_id "good" appears more than once in the file' in str(caught.value)


def test_clean_many_resolves_dependencies_among_the_files_tasks_in_any_order(tasks_dir, minimal):
    items = [minimal("child", task_schedule="", task_dependencies=["parent", "old"]), minimal("parent")]
    cleaned = TaskLoader().clean_many(items, existing={"old": []})
    assert [t["task_id"] for t in cleaned] == ["child", "parent"]


def test_clean_many_finds_a_cycle_across_the_file(tasks_dir, minimal):
    items = [minimal("a", task_dependencies=["b"]), minimal("b", task_dependencies=["a"])]
    with pytest.raises(TaskFileError) as caught:
        TaskLoader().clean_many(items, existing=NO_TASKS)
    assert ("a", "task_dependencies", "task_dependencies would make a cycle: a -> b -> a.") in caught.value.problems


def test_load_file_names_the_line_and_column_of_malformed_json(tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text('{\n  "tasks": [\n    {"task_id": "a",}\n  ]\n}\n')
    with pytest.raises(TaskFileError) as caught:
        TaskLoader().load_file(path)
    [(task_id, field, message)] = caught.value.problems
    assert (task_id, field) == ("", "file")
    assert "line 3, column 21" in message


@pytest.mark.parametrize(
    "content, fragment",
    [
        ('[{"task_id": "a"}]', 'must hold an object with a "tasks" list'),
        ('{"task": []}', 'must hold an object with a "tasks" list'),
        ('{"tasks": {"a": 1}}', "tasks must be a list, got an object"),
        ('{"tasks": [], "version": 2}', 'Unknown top-level field "version"'),
        ('{"tasks": [], "tasks": []}', 'repeats the key "tasks"'),
    ],
)
def test_load_file_refuses_a_file_of_the_wrong_shape(tmp_path, content, fragment):
    path = tmp_path / "tasks.json"
    path.write_text(content)
    with pytest.raises(TaskFileError) as caught:
        TaskLoader().load_file(path)
    assert fragment in str(caught.value)


def test_load_file_refuses_a_file_that_is_not_utf8_or_missing(tmp_path):
    path = tmp_path / "tasks.json"
    path.write_bytes('{"tasks": [{"task_name": "测试"}]}'.encode("gb18030"))
    with pytest.raises(TaskFileError, match="is not UTF-8"):
        TaskLoader().load_file(path)
    with pytest.raises(TaskFileError, match="Cannot read"):
        TaskLoader().load_file(tmp_path / "absent.json")


def test_load_file_checks_dependencies_within_the_file_only(tasks_dir, minimal, tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps({"tasks": [minimal("a", task_dependencies=["elsewhere"])]}))
    with pytest.raises(TaskFileError, match='"elsewhere", which is not a known task'):
        TaskLoader().load_file(path)


# ---- the database as default, and logging -------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_reads_known_tasks_from_the_database_by_default(tasks_dir, minimal):
    from tasks_app.models import Task

    Task.objects.create(task_id="base", task_name="b", task_exec="tasks/test_task.py", task_schedule="@daily")
    assert TaskLoader().clean(minimal("top", task_dependencies=["base"]))["task_dependencies"] == ["base"]
    refuse(minimal("base"), "task_id", "already exists", existing=None)


def test_it_logs_a_refusal_to_the_taskloader_log_without_env_values(tasks_dir, minimal, component_log):
    lines = component_log("TaskLoader")
    with pytest.raises(TaskValidationError):
        TaskLoader().clean(minimal("t1", task_schedule="bad", task_env={"DB_PASSWORD": ["s3cret-value"]}),
                           existing=NO_TASKS)
    assert "INFO - TaskLoader - Task t1 refused: task_schedule" in lines.text()
    assert "DB_PASSWORD" in lines.text() and "s3cret-value" not in lines.text()


@pytest.mark.parametrize("field", ["task_exec", "task_log"])
def test_a_path_the_file_system_refuses_is_a_field_error_not_a_crash(field, db):
    from tasks_app.definition.loader import TaskLoader, TaskValidationError

    data = {
        "task_id": "long-name",
        "task_name": "x",
        "task_exec": "tasks/test_task.py",
        "task_schedule": "* * * * *",
        field: ("tasks/" if field == "task_exec" else "logs/") + "a" * 300 + ".py",
    }
    with pytest.raises(TaskValidationError) as err:
        TaskLoader().clean(data, existing={})
    assert field in err.value.errors
