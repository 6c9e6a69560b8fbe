"""/api/workers and the node of a run in the API: read from the Worker records and TaskExecution.node (the Celery
workers write them; see tests/celery for the real ones)."""
from datetime import timedelta

from django.utils import timezone

from tasks_app.models import ExecutionStatus, Task, TaskExecution, Worker


def worker(name, *, heartbeat_ago=1, stopped=False, queues=("default",)):
    now = timezone.now()
    return Worker.objects.create(
        name=name, hostname=name.rsplit(":", 1)[0], host="machine-1", pid=int(name.rsplit(":", 1)[1]),
        queues=list(queues), concurrency=4, version="celery 5.5.3", started_at=now - timedelta(hours=1),
        last_heartbeat=now - timedelta(seconds=heartbeat_ago), stopped_at=now if stopped else None)


def test_the_workers_are_listed_for_a_viewer_with_their_state_and_runs_going(viewer_client):
    alive = worker("w1@machine-1:100", queues=("default", "reports"))
    worker("w2@machine-1:200", heartbeat_ago=120)
    worker("w3@machine-1:300", stopped=True)
    task = Task.objects.create(task_id="t", task_name="t", task_exec="x.py")
    TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, node=alive.name)

    answer = viewer_client.get("/api/workers")
    assert answer.status_code == 200
    rows = {row["name"]: row for row in answer.json()["results"]}
    assert {name: row["state"] for name, row in rows.items()} == {
        "w1@machine-1:100": "alive", "w2@machine-1:200": "lost", "w3@machine-1:300": "stopped"}
    first = rows["w1@machine-1:100"]
    assert first["queues"] == ["default", "reports"] and first["running"] == 1 and first["concurrency"] == 4
    assert first["hostname"] == "w1@machine-1" and first["pid"] == 100 and first["version"] == "celery 5.5.3"
    assert viewer_client.get(f"/api/workers/{alive.pk}").json()["name"] == alive.name
    assert viewer_client.get("/api/workers/999999").status_code == 404


def test_the_workers_need_a_role_and_cannot_be_written(client_as):
    assert client_as("none").get("/api/workers").status_code == 403
    assert client_as("admin").post("/api/workers", {}, format="json").status_code == 405


def test_the_workers_are_in_the_openapi_schema(viewer_client):
    schema = viewer_client.get("/api/schema/").json()
    assert "/api/workers" in schema["paths"] and "/api/workers/{id}" in schema["paths"]
    assert "node" in schema["components"]["schemas"]["Execution"]["properties"]


def test_a_runs_detail_names_the_node_that_ran_it(viewer_client):
    task = Task.objects.create(task_id="t", task_name="t", task_exec="x.py")
    run = TaskExecution.objects.create(task=task, status=ExecutionStatus.SUCCESS, node="w1@machine-1:100")
    detail = viewer_client.get(f"/api/tasks/t/executions/{run.pk}").json()
    assert detail["node"] == "w1@machine-1:100"
    assert viewer_client.get("/api/tasks/t/executions").json()["results"][0]["node"] == "w1@machine-1:100"
