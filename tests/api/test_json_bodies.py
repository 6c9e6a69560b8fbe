"""JSON bodies the database could never store: a 400 that names the value, never a 500."""
import pytest

from tasks_app.models import Backfill, Calendar, Task

from .conftest import simple_task

# "\ud800" is valid JSON but no character (a lone UTF-16 surrogate): UTF-8, hence every database, refuses it.
LONE_SURROGATE = "\\ud800"


@pytest.mark.parametrize("path, body", [
    ("/api/calendars", '{"name": "cal", "description": "a%sb"}'),
    ("/api/calendars", '{"name": "cal", "ranges": [{"start": "2025-10-01", "end": "2025-10-02", "label": "%s"}]}'),
    ("/api/tasks", '{"task_id": "t1", "task_name": "x%s", "task_exec": "tasks/test_task.py", '
                   '"task_schedule": "*/5 * * * *"}'),
    ("/api/backfills", '{"task_id": "daily%s", "start": "2025-10-01", "end": "2025-10-02"}'),
    ("/api/import", '{"tasks": [{"task_id": "t2", "task_name": "%s", "task_exec": "tasks/test_task.py"}]}'),
    ("/api/bulk", '{"action": "enable", "task_ids": ["t%s"]}'),
    ("/api/pauses", '{"reason": "maintenance %s"}'),
])
def test_a_lone_surrogate_in_a_json_body_is_a_400_naming_it_not_a_500(admin_client, path, body):
    answer = admin_client.generic("POST", path, body % LONE_SURROGATE, content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert "\\ud800" in answer.json()["detail"]
    assert not Calendar.objects.exists() and not Task.objects.exists() and not Backfill.objects.exists()


def test_a_json_body_with_ordinary_unicode_goes_through(admin_client):
    answer = admin_client.post("/api/tasks", simple_task("t3", task_name="日报 😀"), format="json")
    assert answer.status_code == 201, answer.json()


@pytest.mark.parametrize("path", ["/api/calendars", "/api/backfills", "/api/tasks", "/api/bulk", "/api/pauses"])
def test_a_json_body_nested_too_deeply_is_a_400_not_a_500(admin_client, path):
    # 100,000 brackets are 200 KB, well under the body limit, and past the parser's recursion limit.
    for body in ("[" * 100_000 + "]" * 100_000, '{"name": "x", "description": ' + "[" * 100_000 + "]" * 100_000 + "}"):
        answer = admin_client.generic("POST", path, body, content_type="application/json")
        assert answer.status_code == 400 and "nested" in answer.json()["detail"], answer.content[:200]
