"""The task list's JSON for a task is the read endpoint's and the serializer's for the same task, byte for byte,
whatever the task holds (secrets redacted in one place for both). The list makes it from rows (values_list), the
others from instances: api/task_json.py is the one definition both go through."""
import json
from datetime import datetime, timezone

import pytest

from django.db.models.signals import post_init

from tasks_app.api.serializers import TaskSerializer, TaskStatusSerializer
from tasks_app.api.task_json import status_json
from tasks_app.models import Task, TaskExecution, TaskStatus
from tasks_app.secrets import keys as secret_keys

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 29, 0, 59, 30, 123456, tzinfo=timezone.utc)  # just before Berlin's clocks go forward


def every_field_set():
    """A task with each field away from its default (two secrets, a sealed webhook, non-empty JSON everywhere)
    and a status row with every column set."""
    task = Task.objects.create(
        task_id="full", task_name="Full — ünïcode", task_desc="line one\nline two", task_exec="tasks/full.py",
        task_schedule="*/7 3-5 * * 1-5", task_timeout=600, task_retry=2, task_retry_interval=30, task_enabled=True,
        task_log="logs/full.log",
        task_env={"PLAIN": "visible", "EMPTY": "", "DB_PASSWORD": secret_keys.seal("pa55"),
                  "TOKEN": secret_keys.seal("t0ken")},
        task_dependencies=["bare", "other"],
        task_notify={"on_success": True, "on_failure": True, "email": "ops@example.com",
                     "webhook": secret_keys.seal("https://hooks.example.com/T/B/X", shown="https://hooks.example.com/...")},
        task_timezone="Europe/Berlin", task_overlap="queue", task_misfire_grace=5, task_run_as="nobody",
        task_limits={"memory": 1 << 28, "cpu": 30, "processes": 8}, task_queue="reports",
        task_channels=["ops", "team"], task_alerts={"failures_in_row": 3, "on_recovery": True},
        task_expected_duration=120, task_calendar="cn-workdays", task_allow_overrides=True, task_type="shell",
        task_options={"args": ["-x", 1], "nested": {"a": [None, False, 1.5]}}, task_tags=["nightly", "db"],
        task_fast_start=False)
    run = TaskExecution.objects.create(task=task, status="failed", start_time=START,
                                       end_time=START.replace(second=45))
    TaskStatus.objects.update_or_create(task=task, defaults={
        "running": True, "last_execution": run, "last_status": "failed", "last_start_time": START,
        "last_end_time": START.replace(second=45), "next_run_time": START.replace(hour=3, minute=7)})
    return task


@pytest.fixture
def tasks():
    full = every_field_set()
    bare = Task.objects.create(task_id="bare", task_name="Bare", task_exec="tasks/bare.py", task_schedule="0 0 * * *")
    TaskStatus.objects.filter(task=bare).delete()  # a task the scheduler has not written a status row for yet
    disabled = Task.objects.create(task_id="other", task_name="Disabled", task_exec="tasks/o.py",
                                   task_schedule="0 0 * * *", task_enabled=False, task_tags=[], task_env={})
    TaskStatus.objects.update_or_create(task=disabled, defaults={"next_run_time": START, "last_status": "success"})
    return [full, bare, disabled]


def test_the_list_shows_each_task_byte_for_byte_as_the_read_endpoint_and_the_serializer(tasks, client_as):
    client = client_as("viewer")
    listed = client.get("/api/tasks")
    assert listed.status_code == 200
    items = {item["task_id"]: item for item in listed.json()["results"]}
    assert sorted(items) == ["bare", "full", "other"]
    for task in tasks:
        read = client.get(f"/api/tasks/{task.task_id}")
        assert read.status_code == 200
        shown = json.dumps(items[task.task_id], ensure_ascii=False)  # key order, types and values
        assert shown == json.dumps(read.json(), ensure_ascii=False)
        # The serializer on an instance made by Django's own iterable, as before the list made its own.
        assert shown == json.dumps(TaskSerializer(Task.objects.select_related("status").get(pk=task.pk)).data,
                                   ensure_ascii=False)
    full = items["full"]
    assert full["task_env"]["DB_PASSWORD"]["secret"] is True and "pa55" not in listed.content.decode()
    assert full["task_notify"]["webhook"] == "https://hooks.example.com/..."
    assert full["status"]["status"] == "running" and full["status"]["last_start_time"].endswith("+01:00")
    assert items["bare"]["status"]["last_status"] == "" and items["other"]["status"]["next_run_time"] is None


@pytest.mark.parametrize("query", ["status=running", "status=idle", "status=disabled", "last_status=none",
                                   "last_status=failed", "tag=db", "search=full", "enabled=false", "page_size=2"])
def test_a_filtered_list_shows_what_the_serializer_shows_for_the_same_tasks(tasks, client_as, query):
    listed = client_as("viewer").get(f"/api/tasks?{query}")
    assert listed.status_code == 200
    shown = listed.json()["results"]
    expected = TaskSerializer(Task.objects.select_related("status").filter(
        task_id__in=[item["task_id"] for item in shown]), many=True).data
    assert shown and json.dumps(shown) == json.dumps(expected)


def test_each_tasks_status_block_in_the_list_is_the_status_endpoints(tasks, client_as):
    client = client_as("viewer")
    items = {item["task_id"]: item for item in client.get("/api/tasks").json()["results"]}
    for task in tasks:
        answer = client.get(f"/api/tasks/{task.task_id}/status")
        assert answer.status_code == 200
        assert json.dumps(items[task.task_id]["status"]) == json.dumps(answer.json())


def test_the_status_block_has_the_fields_its_serializer_declares_in_their_order():
    # The schema (TaskStatusSerializer's declared fields) and the answer (status_json) cannot drift apart.
    assert list(status_json("t", True, "UTC", None)) == list(TaskStatusSerializer().fields)


def test_the_list_makes_no_task_or_status_instance(tasks, client_as):
    # The page is read as rows: making 100 instances was a third of a list of 50 tasks' CPU (task_json.py).
    client = client_as("viewer")
    made = []

    def count(sender, **kwargs):
        made.append(sender.__name__)

    post_init.connect(count, sender=Task)
    post_init.connect(count, sender=TaskStatus)
    try:
        listed = client.get("/api/tasks")
    finally:
        post_init.disconnect(count, sender=Task)
        post_init.disconnect(count, sender=TaskStatus)
    assert listed.status_code == 200 and listed.json()["count"] == 3
    assert made == []


def test_each_list_reads_the_tasks_as_they_are_now(tasks, client_as):
    # The list's rows come from a clone of one queryset made once per process; what it reads is never kept.
    client = client_as("viewer")
    assert client.get("/api/tasks").json()["count"] == 3
    Task.objects.create(task_id="later", task_name="Later", task_exec="tasks/later.py", task_schedule="0 0 * * *")
    Task.objects.filter(task_id="bare").update(task_name="Renamed")
    items = {item["task_id"]: item for item in client.get("/api/tasks").json()["results"]}
    assert sorted(items) == ["bare", "full", "later", "other"] and items["bare"]["task_name"] == "Renamed"
