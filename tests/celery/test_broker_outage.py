"""The broker stopped for 30 s and started again, empty (a Redis that keeps nothing on disk): nothing is lost. Runs
asked for meanwhile wait in the scheduler and are sent when it is back; runs whose messages went down with it are
sent again (SCHEDULER_RESEND_AFTER); each starts once. The Redis is this test's own, on a port of its own."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from tasks_app.models import ExecutionStatus, TaskExecution
from tasks_app.services.executions import run_now

from .conftest import needs_postgresql, queue_name, recorded_starts, started_on, wait_for

pytestmark = [needs_postgresql, pytest.mark.slow,
              pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed")]

OUTAGE = 30  # seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    def __init__(self, port, folder):
        self.port, self.folder, self.proc = port, folder, None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.answers(), 10, what="the private Redis to listen")

    def answers(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # as a crash: whatever it held is gone
            self.proc.wait()


@pytest.fixture
def private_redis(tmp_path):
    redis = PrivateRedis(free_port(), tmp_path)
    redis.start()
    yield redis
    redis.stop()


def test_a_broker_stopped_for_30_s_loses_nothing_and_the_queued_runs_start_after_it_returns(
        private_redis, workers, celery_scheduler, make_task, tmp_path):
    broker = f"redis://127.0.0.1:{private_redis.port}/0"
    queue = queue_name("outage")
    workers(f"o1.{os.getpid()}@test", [queue], broker=broker, concurrency=1)
    celery_scheduler(broker=broker, env={"SCHEDULER_RESEND_AFTER": "3"})
    record = tmp_path / "starts"
    busy = make_task("busy", task_exec="record.py", task_queue=queue,
                     task_env={"RECORD_FILE": str(record), "SLEEP": "3"})
    quick = [make_task(f"quick-{n}", task_exec="record.py", task_queue=queue, task_env={"RECORD_FILE": str(record)})
             for n in range(5)]

    # The one thread of the worker is busy; two more runs are sent: one waits in the worker, one in the broker.
    first = run_now(busy, actor="alice", via="api")
    wait_for(lambda: recorded_starts(record), 20, what="the busy run to start")
    before = [run_now(task, actor="alice", via="api") for task in quick[:2]]
    wait_for(lambda: all(TaskExecution.objects.filter(pk=run.pk, status="running").exists() for run in before), 5,
             what="the two runs to be sent")
    time.sleep(0.5)

    private_redis.stop()
    down = time.monotonic()
    during = [run_now(task, actor="alice", via="api") for task in quick[2:]]
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - down)))
    private_redis.start()
    back = time.monotonic()

    runs = [first, *before, *during]
    for run in runs:
        wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status=ExecutionStatus.SUCCESS).exists(), 60,
                 interval=0.2, what=f"run {run.pk} to succeed")
    print(f"\nevery run ended {time.monotonic() - back:.1f} s after the broker came back")
    assert sorted(recorded_starts(record)) == sorted(run.pk for run in runs), "each run started exactly once"
    assert all(started_on(run.pk) for run in runs)
