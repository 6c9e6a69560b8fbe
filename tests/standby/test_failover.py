"""Two real `runscheduler` processes on one database: the second waits as a standby, takes over within 10 s of
the leader's kill -9, and fires the next slot; over three minutes of every-minute tasks and two handovers no slot
runs twice and none is lost; /healthz/scheduler follows the leader's death and the next scheduler's start."""
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from tasks_app.models import ExecutionStatus, SchedulerLease, TaskExecution, Trigger

from .conftest import get_json, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
HEARTBEAT = 2.0  # SCHEDULER_HEARTBEAT_SECONDS's default: a lease of 6 s


def standing_by(runscheduler, leader):
    """A second scheduler, once it says that it stands by behind `leader`."""
    standby = runscheduler(ready=False)
    wait_for(lambda: f"Standby: the scheduler pid {leader.pid}" in standby.output(), 30,
             what="the second scheduler to stand by")
    assert "Scheduler engine started" not in standby.output()
    return standby


def kill_9(scheduler) -> float:
    os.kill(scheduler.pid, signal.SIGKILL)
    killed = time.monotonic()
    scheduler.proc.wait(5)
    return killed


def leader_name():
    lease = SchedulerLease.objects.current()
    return lease.holder if lease is not None and lease.alive() else None


def sleep_until(moment: datetime):
    """Wait on the real clock until `moment` (a bounded wait: never more than two minutes)."""
    left = (moment - datetime.now(UTC)).total_seconds()
    assert left < 120, left
    if left > 0:
        time.sleep(left)


def next_minute(after_seconds=0.0) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=60 + after_seconds)).replace(second=0, microsecond=0)


def test_after_kill_9_of_the_leader_the_standby_takes_over_within_10_s_and_fires_the_next_slot(
        runscheduler, make_task, engine_scripts):
    task = make_task("every-minute", task_exec="ok.py", task_schedule="* * * * *")
    leader = runscheduler()
    standby = standing_by(runscheduler, leader)
    assert leader_name().endswith(f":{leader.pid}")

    killed = kill_9(leader)
    standby.wait_ready(10)
    took_over = time.monotonic() - killed
    assert took_over < 10, f"the standby took over {took_over:.1f} s after the kill"
    assert leader_name().endswith(f":{standby.pid}")

    after = datetime.now(UTC)
    fired = wait_for(lambda: TaskExecution.objects.filter(task=task, trigger=Trigger.SCHEDULE,
                                                          scheduled_time__gt=after - timedelta(seconds=10),
                                                          status=ExecutionStatus.SUCCESS).first(),
                     75, interval=0.2, what="the next every-minute slot")
    assert fired.worker.endswith(f":{standby.pid}")
    assert (fired.start_time - fired.scheduled_time).total_seconds() < 12  # on time, or late by the handover
    assert standby.proc.poll() is None


def test_healthz_scheduler_goes_503_within_a_lease_of_a_kill_9_and_back_to_200_when_another_leads(
        runscheduler, serve, engine_scripts):
    from tasks_app.engine.lock import renewal

    # Three heartbeats (6 s) on PostgreSQL; on SQLite, where the file lock leads and the row is renewed every
    # 5 heartbeats, seven (14 s).
    _every, lease = renewal(connection.vendor, HEARTBEAT)
    server = serve(env={"SCHEDULER_WATCH_INTERVAL": "0"})
    first = runscheduler()
    assert get_json(server.port, "/healthz/scheduler")[0] == 200

    killed = kill_9(first)
    wait_for(lambda: get_json(server.port, "/healthz/scheduler")[0] == 503, lease + 5, interval=0.05,
             what="/healthz/scheduler to answer 503")
    down_after = time.monotonic() - killed
    assert down_after <= lease + 0.5, f"503 only {down_after:.1f} s after the kill"
    status, body, _ = get_json(server.port, "/healthz/scheduler")
    assert body["reason"].startswith("no heartbeat from the scheduler: none leads since ")

    second = runscheduler()  # it takes the expired lease at once
    assert get_json(server.port, "/healthz/scheduler")[0] == 200
    assert leader_name().endswith(f":{second.pid}")


def test_a_stopping_leader_keeps_its_lease_while_its_runs_finish_then_the_standby_takes_over(
        runscheduler, make_task, engine_scripts):
    task = make_task("long", task_exec="sleep.py", task_env={"SLEEP": "9"})
    leader = runscheduler(env={"SCHEDULER_STOP_GRACE": "20"})
    standby = standing_by(runscheduler, leader)
    from tasks_app.services.executions import run_now

    run = run_now(task, actor="alice", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=run.pk, status=ExecutionStatus.RUNNING).exists(), 10,
             what="the run to start")
    leader.proc.send_signal(signal.SIGTERM)
    stopping = time.monotonic()
    # Nothing may happen for longer than a lease (6 s): a leader that stopped renewing would be replaced by then.
    time.sleep(max(0.0, stopping + 3 * HEARTBEAT + 1 - time.monotonic()))
    assert "Scheduler engine started" not in standby.output() and leader.proc.poll() is None
    assert leader_name().endswith(f":{leader.pid}")

    assert leader.proc.wait(30) == 0
    assert TaskExecution.objects.get(pk=run.pk).status == ExecutionStatus.SUCCESS  # finished, not lost
    standby.wait_ready(5)


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="on SQLite, one machine, a file lock decides: a frozen holder keeps it")
def test_a_frozen_leader_is_replaced_and_once_it_wakes_it_starts_nothing_and_exits_1(
        runscheduler, make_task, engine_scripts, tmp_path):
    # SIGSTOP: what a machine gone from the network looks like to the database. Its connections stay open (an
    # advisory lock would be held until TCP keepalive gave up); its lease simply is not renewed.
    record = tmp_path / "runs.txt"
    task = make_task("manual", task_exec="record.py", task_env={"RECORD_FILE": str(record)}, task_overlap="allow")
    frozen = runscheduler()
    standby = standing_by(runscheduler, frozen)
    os.kill(frozen.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        standby.wait_ready(60)
        assert time.monotonic() - stopped < 60
        assert leader_name().endswith(f":{standby.pid}")
        # Work queued while both exist: the frozen one's old claim on the lease must not let it take any.
        from tasks_app.services.executions import run_now

        runs = [run_now(task, actor="alice", via="api") for _ in range(3)]
    finally:
        os.kill(frozen.pid, signal.SIGCONT)
    assert frozen.proc.wait(30) == 1
    assert "Another scheduler has taken the lease" in frozen.output()
    wait_for(lambda: TaskExecution.objects.filter(pk__in=[r.pk for r in runs],
                                                  status=ExecutionStatus.SUCCESS).count() == 3, 20,
             what="the three runs")
    assert {e.worker for e in TaskExecution.objects.filter(pk__in=[r.pk for r in runs])} == {
        leader_name()}
    assert len(record.read_text().splitlines()) == 3


@pytest.mark.long
@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="three real minutes: run on PostgreSQL, where schedulers on several machines meet")
def test_three_minutes_of_every_minute_tasks_with_two_handovers_run_every_slot_exactly_once(
        runscheduler, make_task, engine_scripts, tmp_path):
    records = {name: tmp_path / f"{name}.txt" for name in ("one", "two")}
    tasks = [make_task(name, task_exec="record.py", task_schedule="* * * * *", task_env={"RECORD_FILE": str(path)})
             for name, path in records.items()]
    a = runscheduler()
    b = standing_by(runscheduler, a)
    first_slot = next_minute(after_seconds=5)

    # Handover 1, three seconds before a slot: the slot passes with no leader, and the standby fires it late
    # (within task_misfire_grace, 60 s).
    late_slot = next_minute(after_seconds=5) + timedelta(minutes=1)
    sleep_until(late_slot - timedelta(seconds=3))
    kill_9(a)
    b.wait_ready(10)
    a2 = standing_by(runscheduler, b)

    # Handover 2, a second after a slot that the leader has fired: the next leader must not fire it again.
    fired_slot = late_slot + timedelta(minutes=1)
    sleep_until(fired_slot + timedelta(seconds=1))
    wait_for(lambda: all(TaskExecution.objects.filter(task=t, scheduled_time=fired_slot,
                                                      status=ExecutionStatus.SUCCESS).exists() for t in tasks),
             10, interval=0.1, what="the leader to run the slot")
    kill_9(b)
    a2.wait_ready(10)

    last_slot = fired_slot + timedelta(minutes=1)
    wait_for(lambda: all(TaskExecution.objects.filter(task=t, scheduled_time=last_slot,
                                                      status=ExecutionStatus.SUCCESS).exists() for t in tasks),
             75, interval=0.2, what="the slot after both handovers")

    slots = [first_slot + timedelta(minutes=n) for n in range(4)]
    for task in tasks:
        runs = list(TaskExecution.objects.filter(task=task, trigger=Trigger.SCHEDULE,
                                                 scheduled_time__gte=first_slot).order_by("scheduled_time"))
        assert [r.scheduled_time for r in runs] == slots, f"{task.task_id}: {[r.scheduled_time for r in runs]}"
        assert all(r.status == ExecutionStatus.SUCCESS for r in runs), [(r.scheduled_time, r.status) for r in runs]
        by_slot = {r.scheduled_time: r for r in runs}
        assert by_slot[late_slot].worker.endswith(f":{b.pid}")
        lateness = (by_slot[late_slot].start_time - late_slot).total_seconds()
        assert 0 < lateness < 12, f"the slot without a leader started {lateness:.1f} s late"
        assert by_slot[fired_slot].worker.endswith(f":{b.pid}")
        assert by_slot[last_slot].worker.endswith(f":{a2.pid}")
        # Each run started once: one line per start in the script's record.
        started = [int(line.split()[0]) for line in records[task.task_id].read_text().splitlines()]
        assert sorted(started) == sorted(set(started)) and set(r.pk for r in runs) <= set(started)
