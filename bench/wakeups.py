"""Measurement 4 (wake-ups): on SQLite and on PostgreSQL, with 1,000 tasks, the idle scheduler's CPU, how long a
task edit takes to reach it (the edit's commit -> its "Configuration version" log line), and run now -> the
script's first instruction. PostgreSQL needs a scratch database the benchmark may empty:
BENCH_POSTGRES_URL=postgres://user@host/scratch (without it the PostgreSQL rows say "not run")."""
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PYTHON, ROOT, SMOKE, Workspace, cpu_seconds_between, median, print_rows, row, utc_now, wait_until, write_result,
    yearly_cron,
)

TASKS = 100 if SMOKE else 1000
IDLE_SECONDS = 3 if SMOKE else 30
SAMPLES = 3 if SMOKE else 15
BARS = {  # database -> (idle CPU %, run now -> first instruction ms, change -> scheduler ms)
    "sqlite": (0.05, 600, None),
    "postgresql": (0.05, 100, 200),
}


def measure(db: str) -> dict:
    """Runs in a process of its own per database (Django's settings are read once per process)."""
    extra = {} if db == "sqlite" else {"DATABASE_URL": os.environ["BENCH_POSTGRES_URL"]}
    ws = Workspace(f"wakeups-{db}", extra_env=extra)
    if db == "sqlite":
        ws.migrate()
    else:  # the scratch database: migrated, then emptied
        for command in (["migrate", "--noinput", "-v", "0"], ["flush", "--noinput", "-v", "0"]):
            subprocess.run([PYTHON, str(ROOT / "manage.py"), *command], env=ws.env, cwd=ROOT, check=True)
    ws.setup_django()
    ids = ws.add_tasks(TASKS, script="noop.py", schedule=yearly_cron, prefix="w")
    from tasks_app.models import Task
    from tasks_app.services.executions import run_now
    from tasks_app.services.tasks import update_task

    sched = ws.start_scheduler(instrumented=True)  # millisecond log times
    try:
        sched.wait_ready(timeout=120)
        time.sleep(6)  # past the start-up's own work and its first safety poll
        # Thread by thread: the process's utime + stime, which counts threads that ended during the start, moves
        # by 10 ms ticks, 0.033 % of a core over 30 s.
        cpu0, w0 = sched.thread_cpu(), time.monotonic()
        time.sleep(IDLE_SECONDS)
        idle_pct = cpu_seconds_between(cpu0, sched.thread_cpu()) / (time.monotonic() - w0) * 100

        changes = []
        for i in range(SAMPLES):
            seen = len(sched.log_times(r"Configuration version (\d+)"))
            before = utc_now()
            update_task(Task.objects.get(task_id=ids[i]), {"task_schedule": "0 0 2 2 *"}, actor="bench", via="cli",
                        partial=True)
            wait_until(lambda: len(sched.log_times(r"Configuration version (\d+)")) > seen, 15, interval=0.01,
                       what="the change to reach the scheduler")
            applied = max(sched.log_times(r"Configuration version (\d+)").values())
            changes.append((applied - before).total_seconds() * 1000)
            time.sleep(0.3)

        run_nows = []
        for i in range(SAMPLES):
            task = Task.objects.get(task_id=ids[-1 - i])
            before_ns = time.time_ns()
            execution = run_now(task, actor="bench", via="cli")
            stamp = wait_until(lambda: next((s for s in ws.stamps() if s["execution_id"] == str(execution.pk)),
                                            None), 15, interval=0.01, what="the run's first instruction")
            run_nows.append((stamp["ns"] - before_ns) / 1e6)
            time.sleep(0.3)
    finally:
        sched.stop()
    ws.cleanup()
    return {"idle_pct": idle_pct, "change_ms": changes, "run_now_ms": run_nows}


def rows_for(db: str, found: dict | None) -> list[dict]:
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[db]
    idle_bar, run_bar, change_bar = BARS[db]
    if found is None:
        return [row(f"4. {name}: idle CPU, run now, change (BENCH_POSTGRES_URL not set)", None, bar="-",
                    passed=None)]
    run_p50, change_p50 = median(found["run_now_ms"]), median(found["change_ms"])
    return [
        row(f"4. {name}, {TASKS:,} tasks: idle CPU of the scheduler", found["idle_pct"], unit="% of a core",
            bar=f"<= {idle_bar}%", passed=found["idle_pct"] <= idle_bar),
        row(f"4. {name}: run now -> the script's first instruction, median of {len(found['run_now_ms'])}",
            run_p50, unit="ms", bar=f"<= {run_bar} ms", passed=run_p50 <= run_bar),
        row(f"4. {name}: a task edit's commit -> applied by the scheduler, median of {len(found['change_ms'])}",
            change_p50, unit="ms", bar=f"<= {change_bar} ms" if change_bar else "- (the issue sets none on SQLite)",
            passed=change_p50 <= change_bar if change_bar else None),
    ]


def main():
    if "--db" in sys.argv:
        import json

        db = sys.argv[sys.argv.index("--db") + 1]
        print("RESULT " + json.dumps(measure(db)), flush=True)
        return
    import json

    rows, details = [], {}
    for db in ("sqlite", "postgresql"):
        found = None
        if db == "sqlite" or os.environ.get("BENCH_POSTGRES_URL"):
            out = subprocess.run([PYTHON, __file__, "--db", db] + (["--smoke"] if SMOKE else []), cwd=ROOT,
                                 capture_output=True, text=True, check=True).stdout
            found = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
        details[db] = found
        rows += rows_for(db, found)
    write_result("wakeups", rows, details)
    print_rows(rows)


if __name__ == "__main__":
    main()
