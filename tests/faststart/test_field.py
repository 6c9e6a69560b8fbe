"""task_fast_start, declared once in the field table: the API, conf/tasks.json and the task page follow from it."""
import json

import pytest

from tasks_app.conffile.mirror import render_tasks_text
from tests.api.conftest import client_as, keys, operator_client, simple_task  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


def stored(task_id):
    """The task as conf/tasks.json writes it."""
    data = json.loads(render_tasks_text())
    return {t["task_id"]: t for t in (data["tasks"] if isinstance(data, dict) else data)}[task_id]


def test_task_fast_start_is_empty_true_or_false_in_the_api_and_in_the_file_only_when_set(operator_client):
    response = operator_client.post("/api/tasks", simple_task("quick"), format="json")
    assert response.status_code == 201 and response.json()["task_fast_start"] is None
    assert "task_fast_start" not in stored("quick")  # the default (empty: SCHEDULER_FAST_START decides)

    response = operator_client.patch("/api/tasks/quick", {"task_fast_start": True}, format="json")
    assert response.status_code == 200 and response.json()["task_fast_start"] is True
    assert stored("quick")["task_fast_start"] is True

    response = operator_client.patch("/api/tasks/quick", {"task_fast_start": "often"}, format="json")
    assert response.status_code == 400 and "task_fast_start" in response.json()

    response = operator_client.patch("/api/tasks/quick", {"task_fast_start": None}, format="json")
    assert response.status_code == 200 and response.json()["task_fast_start"] is None
