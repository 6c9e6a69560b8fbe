"""The workers page: who is alive, lost or stopped, what each serves and runs, and a red banner for a queue of
enabled tasks that no live worker serves; the run page names the node of a run."""
from datetime import timedelta

from django.utils import timezone

from tasks_app.models import ExecutionStatus, Task, TaskExecution, Worker

from .conftest import client_for


def worker(name, *, heartbeat_ago=1, queues=("default",)):
    now = timezone.now()
    return Worker.objects.create(name=name, hostname=name.split(":")[0], host="m1", pid=1, queues=list(queues),
                                 concurrency=2, version="celery 5.5.3", started_at=now,
                                 last_heartbeat=now - timedelta(seconds=heartbeat_ago))


def test_the_workers_page_shows_each_worker_and_a_banner_for_a_queue_nobody_serves(client, viewer, settings):
    settings.SCHEDULER_EXECUTOR = "celery"
    worker("w1@m1:1", queues=("default",))
    worker("w2@m1:2", heartbeat_ago=600, queues=("gpu",))
    Task.objects.create(task_id="a", task_name="a", task_exec="x.py", task_queue="default")
    Task.objects.create(task_id="b", task_name="b", task_exec="x.py", task_queue="gpu")
    Task.objects.create(task_id="c", task_name="c", task_exec="x.py", task_queue="idle", task_enabled=False)

    page = client_for(client, viewer).get("/workers")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-worker="w1@m1:1"' in html and 'data-state="alive"' in html and 'data-state="lost"' in html
    assert 'id="unserved-queues"' in html and "gpu" in html.split('id="unserved-queues"')[1].split("</div>")[0]
    assert "idle" not in html.split('id="unserved-queues"')[1].split("</div>")[0], "a disabled task's queue is not"


def test_the_workers_page_says_runs_are_local_with_the_local_executor(client, viewer, settings):
    settings.SCHEDULER_EXECUTOR = "local"
    html = client_for(client, viewer).get("/workers").content.decode()
    assert 'id="local-executor"' in html and 'id="unserved-queues"' not in html


def test_the_workers_page_needs_a_login_and_a_role(client, nobody):
    assert client.get("/workers").status_code == 302
    assert client_for(client, nobody).get("/workers").status_code == 403


def test_a_runs_page_names_its_node_or_says_it_waits_for_a_worker(client, viewer):
    task = Task.objects.create(task_id="t", task_name="t", task_exec="x.py")
    ran = TaskExecution.objects.create(task=task, status=ExecutionStatus.SUCCESS, node="w1@m1:1")
    waiting = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, node="")
    viewer_client = client_for(client, viewer)
    assert "w1@m1:1" in viewer_client.get(f"/tasks/t/executions/{ran.pk}").content.decode()
    assert "waiting for a worker" in viewer_client.get(f"/tasks/t/executions/{waiting.pk}").content.decode()


def test_the_workers_page_speaks_chinese(client, viewer, settings):
    settings.SCHEDULER_EXECUTOR = "celery"
    worker("w1@m1:1", heartbeat_ago=600, queues=("gpu",))
    Task.objects.create(task_id="b", task_name="b", task_exec="x.py", task_queue="gpu")
    html = client_for(client, viewer).get("/workers", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    for text in ("工作节点", "失联", "最近心跳", "没有在线的工作节点服务已启用任务所用的队列 gpu"):
        assert text in html, text
