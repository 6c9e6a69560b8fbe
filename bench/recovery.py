"""Measurement 4 (recovery at scale): 10,000 every-minute tasks, and the previous scheduler last seen a day ago.
The time from `runscheduler`'s start until it is ready and every task's missed slots are recorded (one skipped
execution per task saying how many, per task_misfire_grace), and whether each record counted them right."""
import re
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SMOKE, Workspace, print_rows, row, sleep_until, utc_now, wait_until, write_result  # noqa: E402

TASKS = 200 if SMOKE else 10_000
DOWN = timedelta(days=1)
MISSED = re.compile(r"missed (\d+) scheduled run")


def main():
    ws = Workspace("recovery").migrate()
    ws.setup_django()
    from tasks_app.models import ExecutionStatus, Task, TaskExecution
    from tasks_app.models.scheduler import SchedulerLease

    # misfire grace 0: every slot of the day is missed, the latest too, so nothing runs and only the
    # recovery is measured (with the default grace the latest slot of each task would start at once).
    ws.add_tasks(TASKS, script="noop.py", schedule="* * * * *", prefix="r", task_misfire_grace=0)
    if not SMOKE:  # start just after a minute, so that the next live fire is as far away as it can be
        sleep_until(utc_now().replace(second=0, microsecond=0) + timedelta(minutes=1, seconds=1))
    last_seen = utc_now() - DOWN
    Task.objects.update(updated_at=last_seen - timedelta(hours=1))
    # The previous leader's lease, released a day ago: its last heartbeat says since when slots were missed.
    SchedulerLease.objects.create(holder="bench-previous", host="bench", pid=1,
                                  acquired_at=last_seen - timedelta(days=1), renewed_at=last_seen,
                                  expires_at=last_seen, released_at=last_seen)

    sched = ws.start_scheduler()
    started_wall = sched.started_wall
    try:
        ready_s = sched.wait_ready(timeout=300)
        skipped = TaskExecution.objects.filter(status=ExecutionStatus.SKIPPED)
        wait_until(lambda: skipped.count() >= TASKS, 300, interval=0.05, what="every missed record")
        recorded_s = time.monotonic() - sched.started_at
    finally:
        sched.stop()

    counts, wrong = [], []
    for message, last_slot in skipped.values_list("error_message", "scheduled_time"):
        found = MISSED.search(message)
        count = int(found[1]) if found else -1
        counts.append(count)
        # The record holds the last slot missed: every minute in (last_seen, last_slot], counted by hand.
        expected = (last_slot - last_seen.replace(second=0, microsecond=0)) // timedelta(minutes=1)
        if count != expected:
            wrong.append((message, last_slot.isoformat(), expected))
    ran = TaskExecution.objects.exclude(status=ExecutionStatus.SKIPPED).count()
    decided = sorted(skipped.values_list("start_time", flat=True))  # when each batch of records was decided
    batches_s = [(decided[0] - started_wall).total_seconds(), (decided[-1] - started_wall).total_seconds()]
    rows = [
        row(f"4. {TASKS:,} every-minute tasks down for a day: ready and every missed slot recorded, after start",
            recorded_s, unit="s", bar="<= 15 s", passed=recorded_s <= 15 and not wrong and ran == 0),
        row(f"4. same: runscheduler's ready line after start (information; missed slots {min(counts)}-{max(counts)} "
            f"per task, {len(wrong)} miscounted)", ready_s, unit="s", bar="-", passed=None),
    ]
    details = {"tasks": TASKS, "down_s": DOWN.total_seconds(), "ready_s": ready_s, "recorded_s": recorded_s,
               "started": started_wall.isoformat(), "miscounted": wrong[:20], "runs_started": ran,
               "missed_per_task": [min(counts), max(counts)], "first_and_last_record_decided_s": batches_s,
               "scheduler_log_tail": sched.output()[-3000:]}
    write_result("recovery", rows, details)
    print_rows(rows)
    ws.cleanup()


if __name__ == "__main__":
    main()
