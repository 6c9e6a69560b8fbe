"""/api/tasks: the document's example round-trips, the loader's messages per field, filters, writes logged."""
import logging

import pytest
from rest_framework.test import APIClient

from tasks_app.definition.loader import TaskLoader, TaskValidationError
from tasks_app.logs.setup import formatter
from tasks_app.models import ExecutionStatus, Task, TaskStatus
from tasks_app.services.tasks import create_task

from .conftest import DOCUMENT_EXAMPLE_TASK, simple_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_log():
    """Lines the APIInterface logger writes, in sys.log's format."""
    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Keep()
    handler.setFormatter(formatter())
    logger = logging.getLogger("APIInterface")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def test_the_document_example_posted_as_written_reads_back_with_the_same_values(operator_client):
    created = operator_client.post("/api/tasks", DOCUMENT_EXAMPLE_TASK, format="json")
    assert created.status_code == 201, created.json()
    assert created["Location"] == "/api/tasks/test-task"
    read = operator_client.get("/api/tasks/test-task").json()
    assert {k: read[k] for k in DOCUMENT_EXAMPLE_TASK} == DOCUMENT_EXAMPLE_TASK
    assert read["task_timezone"] == "" and read["task_overlap"] == "skip" and read["task_misfire_grace"] == 60
    assert read["status"]["status"] == "idle" and read["status"]["last_execution"] is None
    assert read["status"]["next_run_time"] is not None
    assert list(read)[:13] == list(DOCUMENT_EXAMPLE_TASK)  # the document's field order


def test_paths_work_with_and_without_a_trailing_slash(operator_client):
    assert operator_client.post("/api/tasks/", simple_task("a"), format="json").status_code == 201
    for url in ["/api/tasks", "/api/tasks/", "/api/tasks/a", "/api/tasks/a/", "/api/tasks/a/status",
                "/api/tasks/a/status/", "/api/tasks/a/next-run", "/api/tasks/a/logs/", "/api/tasks/a/executions"]:
        assert operator_client.get(url).status_code == 200, url


def loader_errors(data, **kwargs):
    with pytest.raises(TaskValidationError) as caught:
        TaskLoader().clean(data, **kwargs)
    return caught.value.errors


def test_a_bad_cron_expression_is_a_400_naming_task_schedule_with_the_loaders_message(operator_client):
    data = simple_task("bad-cron", task_schedule="61 * * * *")
    response = operator_client.post("/api/tasks", data, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"task_schedule"}
    assert response.json() == loader_errors(data)
    assert "61" in response.json()["task_schedule"][0] and "minute" in response.json()["task_schedule"][0]


def test_a_script_outside_the_tasks_folder_is_a_400_naming_task_exec(operator_client):
    for exec_path in ["../manage.py", "/etc/passwd", "tasks/../../manage.py"]:
        response = operator_client.post("/api/tasks", simple_task("escape", task_exec=exec_path), format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["task_exec"], response.json()
        assert "tasks folder" in response.json()["task_exec"][0]


def test_every_bad_field_is_reported_at_once(operator_client):
    data = {"task_id": "x y", "task_name": "", "task_exec": "tasks/test_task.py", "task_schedule": "* *",
            "task_timeout": 0, "task_retry": "3", "task_env": {"1BAD": "v"}, "bogus": 1}
    response = operator_client.post("/api/tasks", data, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"task_id", "task_name", "task_schedule", "task_timeout", "task_retry",
                                    "task_env", "bogus"}
    assert response.json() == loader_errors(data)


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "null", "{not json"])
def test_a_body_that_is_not_a_task_object_is_a_json_400(operator_client, body):
    response = operator_client.post("/api/tasks", body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_a_duplicate_task_id_is_a_400_naming_task_id(operator_client):
    assert operator_client.post("/api/tasks", simple_task("dup"), format="json").status_code == 201
    response = operator_client.post("/api/tasks", simple_task("dup"), format="json")
    assert response.status_code == 400 and list(response.json()) == ["task_id"]


def test_put_replaces_the_configuration_and_accepts_what_get_returned(operator_client):
    operator_client.post("/api/tasks", DOCUMENT_EXAMPLE_TASK, format="json")
    current = operator_client.get("/api/tasks/test-task").json()
    current["task_name"] = "Renamed"
    response = operator_client.put("/api/tasks/test-task", current, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["task_name"] == "Renamed" and response.json()["task_env"] == DOCUMENT_EXAMPLE_TASK["task_env"]
    # Fields left out of a PUT take their defaults; task_id comes from the URL.
    response = operator_client.put("/api/tasks/test-task", {"task_name": "Bare", "task_exec": "tasks/test_task.py",
                                                            "task_schedule": "0 * * * *"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["task_env"] == {} and response.json()["task_retry"] == 0


def test_put_cannot_change_the_task_id(operator_client):
    operator_client.post("/api/tasks", simple_task("keep"), format="json")
    response = operator_client.put("/api/tasks/keep", simple_task("other"), format="json")
    assert response.status_code == 400 and list(response.json()) == ["task_id"]


def test_patch_task_enabled_false_disables_the_task_and_clears_its_next_run(operator_client):
    operator_client.post("/api/tasks", simple_task("p"), format="json")
    response = operator_client.patch("/api/tasks/p", {"task_enabled": False}, format="json")
    assert response.status_code == 200
    assert response.json()["task_enabled"] is False
    assert response.json()["status"]["status"] == "disabled"
    assert response.json()["status"]["next_run_time"] is None
    response = operator_client.patch("/api/tasks/p", {"task_schedule": "0 0 * * *", "task_retry": 2}, format="json")
    assert response.json()["task_schedule"] == "0 0 * * *" and response.json()["task_enabled"] is False


def test_patch_validates_the_merged_task(operator_client):
    operator_client.post("/api/tasks", simple_task("p"), format="json")
    response = operator_client.patch("/api/tasks/p", {"task_timezone": "Mars/Olympus"}, format="json")
    assert response.status_code == 400 and "Mars/Olympus" in response.json()["task_timezone"][0]


def test_delete_answers_204_and_refuses_a_task_others_depend_on(admin_client):
    admin_client.post("/api/tasks", simple_task("base"), format="json")
    admin_client.post("/api/tasks", simple_task("child", task_dependencies=["base"]), format="json")
    refused = admin_client.delete("/api/tasks/base")
    assert refused.status_code == 400 and "child" in refused.json()["task_dependencies"][0]
    assert admin_client.delete("/api/tasks/child").status_code == 204
    assert admin_client.delete("/api/tasks/base").status_code == 204
    assert admin_client.get("/api/tasks/base").status_code == 404


def test_an_unknown_task_is_a_json_404_naming_it(viewer_client):
    response = viewer_client.get("/api/tasks/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "No task with task_id 'nope'."}


def test_unknown_paths_methods_and_media_types_are_json_errors(admin_client):
    for url in ["/api/nothing", "/api/tasks/a/b/c/d", "/api/tasks/bad%20id", "/api/tasks/new%0Aline", "/api/a%0A%0Ab"]:
        response = admin_client.get(url)
        assert response.status_code == 404 and response["Content-Type"] == "application/json", url
    response = admin_client.delete("/api/tasks")
    assert response.status_code == 405 and "DELETE" in response.json()["detail"]
    response = admin_client.post("/api/tasks", "<task/>", content_type="application/xml")
    assert response.status_code == 415 and response.json()["detail"]


def make_tasks():
    create_task(simple_task("alpha", task_name="Nightly backup", task_desc="copies the database"),
                actor="t", via="cli")
    create_task(simple_task("beta", task_name="Report"), actor="t", via="cli")
    create_task(simple_task("gamma", task_name="Cleanup", task_enabled=False), actor="t", via="cli")
    create_task(simple_task("delta", task_name="Mailer"), actor="t", via="cli")
    TaskStatus.objects.filter(task__task_id="alpha").update(last_status=ExecutionStatus.FAILED)
    TaskStatus.objects.filter(task__task_id="beta").update(running=True, last_status=ExecutionStatus.SUCCESS)


@pytest.mark.parametrize("query, expected", [
    ("", ["alpha", "beta", "delta", "gamma"]),
    ("enabled=false", ["gamma"]),
    ("enabled=true", ["alpha", "beta", "delta"]),
    ("status=running", ["beta"]),
    ("status=idle", ["alpha", "delta"]),
    ("status=disabled", ["gamma"]),
    ("last_status=failed", ["alpha"]),
    ("last_status=none", ["delta", "gamma"]),
    ("search=BACKUP", ["alpha"]),
    ("search=database", ["alpha"]),
    ("search=amm", ["gamma"]),
    ("enabled=true&search=a", ["alpha", "beta", "delta"]),
])
def test_the_list_filters_by_enabled_state_last_result_and_text(viewer_client, query, expected):
    make_tasks()
    response = viewer_client.get(f"/api/tasks?{query}")
    assert response.status_code == 200
    assert [t["task_id"] for t in response.json()["results"]] == expected


@pytest.mark.parametrize("query, field", [
    ("enabled=maybe", "enabled"), ("status=sleeping", "status"), ("last_status=great", "last_status"),
    ("search=" + "x" * 201, "search"), ("search=a%00b", "search"), ("page=0", None), ("page=abc", None),
])
def test_bad_list_parameters_are_a_400_naming_the_parameter(viewer_client, query, field):
    make_tasks()
    response = viewer_client.get(f"/api/tasks?{query}")
    if field is None:  # DRF's paginator: an invalid page is a 404
        assert response.status_code == 404 and response.json()["detail"]
    else:
        assert response.status_code == 400 and list(response.json()) == [field]


def test_the_list_is_paginated_and_costs_a_fixed_number_of_queries(viewer_client, django_assert_max_num_queries,
                                                                  settings):
    for i in range(60):
        Task.objects.create(task_id=f"t{i:02d}", task_name=f"T{i}", task_exec="tasks/test_task.py",
                            task_schedule="* * * * *")
    page = viewer_client.get("/api/tasks").json()
    assert page["count"] == 60 and len(page["results"]) == 50 and page["next"].endswith("page=2")
    assert len(viewer_client.get("/api/tasks?page=2").json()["results"]) == 10
    with django_assert_max_num_queries(8):  # auth, role, count, one page; not one query per task
        viewer_client.get("/api/tasks")


def test_writes_are_logged_as_apiinterface_lines_naming_the_user(admin_client, api_log):
    admin_client.post("/api/tasks", simple_task("logged"), format="json")
    admin_client.patch("/api/tasks/logged", {"task_enabled": False}, format="json")
    admin_client.patch("/api/tasks/logged", {"task_name": "New name"}, format="json")
    admin_client.delete("/api/tasks/logged")
    assert len(api_log) == 4
    assert all(" - INFO - APIInterface - admin-user (key tsk_" in line for line in api_log)
    assert api_log[0].endswith("created task logged")
    assert api_log[1].endswith("disabled task logged")
    assert api_log[2].endswith("updated task logged (task_name)")
    assert api_log[3].endswith("deleted task logged")
    sys_log = [h for h in logging.getLogger("APIInterface").handlers if getattr(h, "baseFilename", "")]
    assert [h.baseFilename.rsplit("/", 1)[1] for h in sys_log] == ["sys.log"]


def test_task_env_values_never_reach_the_log(admin_client, api_log):
    admin_client.post("/api/tasks", simple_task("secret", task_env={"DB_PASSWORD": "hunter2"}), format="json")
    admin_client.patch("/api/tasks/secret", {"task_env": {"DB_PASSWORD": "swordfish"}}, format="json")
    assert api_log and not any("hunter2" in line or "swordfish" in line for line in api_log)


def test_the_browsable_api_renders_the_task_list_as_html(client_as):
    create_task(simple_task("html"), actor="t", via="cli")
    response = client_as("viewer").get("/api/tasks", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert b"html" in response.content and b"Task List" in response.content


def test_an_html_form_post_from_the_browsable_api_creates_a_task(keys):
    client = APIClient()
    assert client.login(username="operator-user", password="pw-operator-user")
    response = client.post("/api/tasks", {"task_id": "form", "task_name": "From the form",
                                          "task_exec": "tasks/test_task.py", "task_schedule": "*/5 * * * *",
                                          "task_timeout": "30"})
    assert response.status_code == 201, response.content
    assert Task.objects.get(task_id="form").task_timeout == 30


@pytest.mark.parametrize("field", ["task_exec", "task_log"])
def test_a_path_with_a_part_too_long_for_the_file_system_is_a_400_naming_the_field(operator_client, field):
    data = simple_task("long", **{field: "x" * 300})
    response = operator_client.post("/api/tasks", data, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_a_race_lost_to_another_change_is_a_json_409_or_404_not_a_500():
    from django.db import IntegrityError

    from tasks_app.api.errors import json_exception_handler

    conflict = json_exception_handler(IntegrityError("UNIQUE constraint failed"), {})
    assert conflict.status_code == 409 and "try again" in conflict.data["detail"]
    gone = json_exception_handler(Task.DoesNotExist("Task matching query does not exist."), {})
    assert gone.status_code == 404 and gone.data["detail"]


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_a_format_suffix_on_a_task_path_is_a_404_not_a_500(admin_client, method):
    assert admin_client.post("/api/tasks", simple_task("task_status"), format="json").status_code == 201
    response = getattr(admin_client, method)("/api/tasks/task_status.json", {}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
def test_a_tasks_times_are_drf_datetimes_in_the_sites_zone_in_a_read_and_a_list(viewer_client, settings, zone):
    from rest_framework import serializers

    settings.TIME_ZONE = zone
    task = create_task(simple_task("timed"), actor="t", via="cli")
    expected = {name: serializers.DateTimeField().to_representation(getattr(task, name))
                for name in ("created_at", "updated_at")}
    assert expected["created_at"].endswith("Z" if zone == "UTC" else "+08:00")
    read = viewer_client.get("/api/tasks/timed").json()
    listed = viewer_client.get("/api/tasks").json()["results"][0]
    assert {name: read[name] for name in expected} == expected == {name: listed[name] for name in expected}


def test_no_read_only_task_field_has_a_default_so_validation_may_skip_looking_for_them():
    # TaskSerializer.run_validators skips DRF's search for read-only defaults, which builds every field.
    from rest_framework.fields import empty

    from tasks_app.api.serializers import TaskSerializer

    read_only = [field for field in TaskSerializer().fields.values() if field.read_only]
    assert {field.field_name for field in read_only} == {"created_at", "updated_at", "status"}
    assert all(field.default is empty for field in read_only)
