"""Measurement 5c (the Celery executor): slot -> the script's first instruction of a task alone in its minute, and
executions recorded per second of a burst due in one minute, with SCHEDULER_EXECUTOR=celery and two Celery worker
processes on this machine (4 slots each), beside the local executor (8 workers) measured the same way on the same
database in the same run. The workers share the scheduler's database, so this needs PostgreSQL
(BENCH_POSTGRES_URL, a scratch database the benchmark empties, as bench/wakeups.py) and a broker
(BENCH_CELERY_BROKER, default Redis on 127.0.0.1:6379); without them the rows say so."""
import json
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from celery_beat import ensure_redis  # noqa: E402
from common import (  # noqa: E402
    PYTHON, ROOT, SMOKE, Workspace, cron_at, dt_to_ns, median, next_slot, print_rows, row, sleep_until, wait_until,
    write_result,
)

BROKER = os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/0")
LAUNCH_ROUNDS = 1 if SMOKE else 3  # minutes with one task alone, per executor
COUNT = 10 if SMOKE else 1000  # tasks of the burst minute
CELERY_WORKERS, SLOTS_EACH = 2, 4  # two worker processes of 4 slots: the local executor's 8 workers
EXECUTORS = ("local", "celery")


def broker_reachable() -> bool:
    """The broker answers; the machine's Redis is started when it is down, as for the celery_beat comparison."""
    parts = urlsplit(BROKER)
    if BROKER == "redis://127.0.0.1:6379/0" and not ensure_redis():
        return False
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2).close()
        return True
    except OSError:
        return False


def start_workers(ws, queue) -> list[subprocess.Popen]:
    """Two `celery -A scheduler_site worker` processes serving `queue`, each with logs and conf of its own."""
    started = []
    for number in range(CELERY_WORKERS):
        home = ws.dir / f"worker{number}"
        for sub in ("logs", "conf"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        env = {**ws.env, "LOGS_DIR": str(home / "logs"), "CONF_DIR": str(home / "conf"), "PYTHONUNBUFFERED": "1"}
        out = open(home / "worker.out", "wb")
        started.append(subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "scheduler_site", "worker", "-Q", queue, "-c", str(SLOTS_EACH),
             "--hostname", f"bench{number}.{os.getpid()}@bench", "--without-mingle", "--without-gossip", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT))
    for number, proc in enumerate(started):
        log_path = ws.dir / f"worker{number}" / "worker.out"
        wait_until(lambda: proc.poll() is not None or " ready." in log_path.read_text(errors="replace"), 90,
                   interval=0.2, what=f"Celery worker {number} to be ready")
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker {number} exited:\n{log_path.read_text(errors='replace')[-3000:]}")
    return started


def stop_workers(started):
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(executor: str) -> dict:
    """One executor, in a process of its own (Django reads its settings once per process): LAUNCH_ROUNDS minutes
    with one task alone, then a minute with COUNT tasks due together."""
    queue = f"bench{os.getpid()}"
    extra = {"DATABASE_URL": os.environ["BENCH_POSTGRES_URL"], "SCHEDULER_EXECUTOR": executor,
             "CELERY_BROKER_URL": BROKER}
    ws = Workspace(f"celery-exec-{executor}", workers=CELERY_WORKERS * SLOTS_EACH, extra_env=extra)
    for command in (["migrate", "--noinput", "-v", "0"], ["flush", "--noinput", "-v", "0"]):
        subprocess.run([PYTHON, str(ROOT / "manage.py"), *command], env=ws.env, cwd=ROOT, check=True)
    ws.setup_django()
    workers = start_workers(ws, queue) if executor == "celery" else []
    first = next_slot(min_lead=20)  # past the scheduler's start
    slots = [first + timedelta(minutes=m) for m in range(LAUNCH_ROUNDS)]
    burst = first + timedelta(minutes=LAUNCH_ROUNDS)
    for number, slot in enumerate(slots):
        ws.add_tasks(1, script="noop.py", schedule=cron_at(slot), prefix=f"alone{number}-", task_queue=queue)
    ws.add_tasks(COUNT, script="noop.py", schedule=cron_at(burst), prefix="burst", task_queue=queue)
    sched = ws.start_scheduler()
    try:
        sched.wait_ready(timeout=90)
        sleep_until(burst)
        wait_until(lambda: _ended(ws, "burst") >= COUNT, max(60, COUNT * 0.3), interval=0.5,
                   what=f"{COUNT} records")
    finally:
        sched.stop()
        stop_workers(workers)
    stamps = {s["task_id"]: s["ns"] for s in ws.stamps()}
    alone = [(stamps[f"alone{n}-00000"] - dt_to_ns(slot)) / 1e6 for n, slot in enumerate(slots)
             if f"alone{n}-00000" in stamps]
    ended = [e["end_time"] for e in ws.executions() if e["task__task_id"].startswith("burst") and e["end_time"]]
    last_end_s = (max(ended) - burst).total_seconds() if ended else None
    found = {"executor": executor, "launch_ms": alone, "burst_records": len(ended), "last_end_s": last_end_s,
             "records_per_s": len(ended) / last_end_s if last_end_s else None,
             "load_average": os.getloadavg()}
    ws.cleanup()
    return found


def _ended(ws, prefix) -> int:
    from tasks_app.models import TaskExecution

    return TaskExecution.objects.filter(task__task_id__startswith=prefix, end_time__isnull=False).count()


def rows_for(found: dict | None, why: str = "") -> list[dict]:
    if found is None:
        return [row(f"5c. Celery executor: slot -> first instruction, executions per second ({why})", None,
                    bar="-", passed=None)]
    local, celery = found["local"], found["celery"]
    launch, local_launch = median(celery["launch_ms"]), median(local["launch_ms"])
    return [
        row(f"5c. Celery executor, 2 workers x {SLOTS_EACH}: slot -> the script's first instruction, a task alone, "
            f"median of {len(celery['launch_ms'])} (baseline: the local executor, PostgreSQL)", launch, local_launch,
            unit="ms", bar="information", passed=None),
        row(f"5c. Celery executor: executions recorded per second, {COUNT:,} due in one minute "
            f"(baseline: the local executor, {CELERY_WORKERS * SLOTS_EACH} workers, PostgreSQL)",
            celery["records_per_s"], local["records_per_s"], unit="/s", bar="information", passed=None),
    ]


def main():
    if "--executor" in sys.argv:
        executor = sys.argv[sys.argv.index("--executor") + 1]
        print("RESULT " + json.dumps(measure(executor), default=str), flush=True)
        return
    why = ("BENCH_POSTGRES_URL not set" if not os.environ.get("BENCH_POSTGRES_URL")
           else "" if broker_reachable() else f"no broker at {urlsplit(BROKER).netloc}")
    found = None
    if not why:
        found = {}
        for executor in EXECUTORS:
            out = subprocess.run([PYTHON, __file__, "--executor", executor] + (["--smoke"] if SMOKE else []),
                                 cwd=ROOT, capture_output=True, text=True, check=True).stdout
            found[executor] = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
    rows = rows_for(found, why)
    write_result("celery_exec", rows, found or {"not_run": why})
    print_rows(rows)


if __name__ == "__main__":
    main()
