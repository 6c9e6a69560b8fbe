"""Measurement 7: django-celery-beat + a Celery worker (prefork, concurrency 8) on the local Redis, given
measurement 3's burst: 1,000 periodic tasks with a crontab due in the same minute, each spawning the same
/bin/true-like script. Records how many started within the minute and the spread; compares with the
engine's burst (results/burst.json, measured just before by run_all)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    BENCH_DIR, PYTHON, RESULTS_DIR, SCRIPTS_DIR, SMOKE, dt_to_ns, next_slot, percentile, print_rows, row,
    sleep_until, wait_until, write_result,
)

PROJECT = BENCH_DIR / "celery_beat_project"
REDIS_DB = "15"


def ensure_redis() -> bool:
    if shutil.which("redis-cli") and subprocess.run(["redis-cli", "ping"], capture_output=True).returncode == 0:
        return True
    if not shutil.which("redis-server"):
        return False
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
                    "--save", "", "--appendonly", "no"], check=True, capture_output=True)
    try:
        wait_until(lambda: subprocess.run(["redis-cli", "ping"], capture_output=True).returncode == 0, 10,
                   what="redis-server")
    except TimeoutError:
        return False
    return True


def setup_db(env, count, slot):
    code = f"""
import celery_app  # django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django_celery_beat.models import CrontabSchedule, PeriodicTask
import json
cron = CrontabSchedule.objects.create(minute="{slot.minute}", hour="{slot.hour}", day_of_month="{slot.day}",
                                      month_of_year="{slot.month}", day_of_week="*", timezone="UTC")
PeriodicTask.objects.bulk_create([
    PeriodicTask(name=f"cb{{i:05d}}", task="bench.spawn", crontab=cron,
                 args=json.dumps([{str(SCRIPTS_DIR / 'noop.py')!r}, f"cb{{i:05d}}"]))
    for i in range({count})
])
# bulk_create skips the signals that tell beat about changes: mark the change by hand.
from django_celery_beat.models import PeriodicTasks
PeriodicTasks.update_changed()
"""
    subprocess.run([PYTHON, "-c", code], env=env, cwd=PROJECT, check=True)


def main():
    count = 20 if SMOKE else 1000
    if not ensure_redis():
        rows = [row("7. django-celery-beat + Celery: started within the minute", "no Redis", bar="engine beats it",
                    passed=None)]
        write_result("celery_beat", rows, {"error": "redis-server not available"})
        print_rows(rows)
        return
    subprocess.run(["redis-cli", "-n", REDIS_DB, "flushdb"], check=True, capture_output=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-celery-"))
    stamps = tmp / "stamps"
    stamps.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings",
        "PYTHONPATH": str(PROJECT),
        "CELERY_BENCH_DB": str(tmp / "beat.sqlite3"),
        "CELERY_BENCH_BROKER": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "BENCH_STAMP_DIR": str(stamps),
    }
    slot = next_slot(min_lead=30)
    setup_db(env, count, slot)
    logs = {name: open(tmp / f"{name}.log", "wb") for name in ("worker", "beat")}
    procs = {
        "worker": subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "celery_app", "worker", "-P", "prefork", "-c", "8", "--loglevel=INFO",
             "-n", "bench@%h"], env=env, cwd=PROJECT, stdout=logs["worker"], stderr=subprocess.STDOUT),
        "beat": subprocess.Popen(
            [PYTHON, "-m", "celery", "-A", "celery_app", "beat", "--loglevel=INFO",
             "-s", str(tmp / "celerybeat-schedule"), "--pidfile", str(tmp / "beat.pid")],
            env=env, cwd=PROJECT, stdout=logs["beat"], stderr=subprocess.STDOUT),
    }
    try:
        wait_until(lambda: b"ready" in (tmp / "worker.log").read_bytes(), 60, what="celery worker")
        sleep_until(slot + timedelta(seconds=60))
        # Beyond the minute, wait for stragglers (up to 2 more minutes) to see whether any run is lost.
        try:
            wait_until(lambda: len(list(stamps.iterdir())) >= count, 5 if SMOKE else 120, interval=1,
                       what="all runs")
        except TimeoutError:
            pass
        time.sleep(2)
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for f in logs.values():
            f.close()
        subprocess.run(["redis-cli", "-n", REDIS_DB, "flushdb"], capture_output=True)

    slot_ns = dt_to_ns(slot)
    starts = sorted((int(p.read_text().split()[0]) - slot_ns) / 1e6 for p in stamps.iterdir())
    within = sum(1 for s in starts if 0 <= s < 60_000)
    spread_s = (starts[-1] - starts[0]) / 1000 if starts else None
    beat = {
        "count": count,
        "ran": len(starts),
        "started_within_minute": within,
        "first_ms": starts[0] if starts else None,
        "p50_ms": percentile(starts, 50),
        "last_ms": starts[-1] if starts else None,
        "spread_s": spread_s,
    }
    engine, fast = _engine_burst("trivial"), _engine_burst("fast_start")
    rows = comparison_rows("7.", f"{count} tasks due in one minute", engine, beat)
    # The engine with fast start (line 3f's burst): like Celery's prefork pool, a pre-started process forks each
    # run's, where line 7 above spawns a new interpreter for each run's shepherd.
    rows += comparison_rows("7f.", "same burst, the engine with fast start (line 3f)", fast, beat)
    write_result("celery_beat", rows, {"celery_beat": beat, "engine_burst": engine, "engine_fast_burst": fast,
                                       "slot": slot.isoformat()})
    print_rows(rows)
    shutil.rmtree(tmp, ignore_errors=True)


def comparison_rows(prefix, what, engine, beat) -> list[dict]:
    """The engine's burst (`engine`, from _engine_burst, None when burst.py has not run) against celery-beat's."""
    within, spread_s, p50_s = beat["started_within_minute"], beat["spread_s"], beat["p50_ms"]
    p50_s = None if p50_s is None else p50_s / 1000
    e_within = e_spread = e_p50 = None
    if engine:
        e_within, e_spread, e_p50 = engine.get("started_within_minute"), engine.get("spread_s"), engine.get("p50_s")
    beaten = "engine beats celery-beat"
    return [
        row(f"{prefix} {what}: started within the minute (engine vs django-celery-beat)", e_within, within,
            bar=beaten, passed=None if e_within is None or e_spread is None or spread_s is None
            else e_within >= within and (e_within > within or e_spread <= spread_s)),
        row(f"{prefix} same burst: spread first -> last start (engine vs django-celery-beat)", e_spread, spread_s,
            unit="s", bar=beaten, passed=None if e_spread is None or spread_s is None else e_spread <= spread_s),
        row(f"{prefix} same burst: median start after the minute (engine vs django-celery-beat)", e_p50, p50_s,
            unit="s", bar=beaten, passed=None if e_p50 is None or p50_s is None else e_p50 <= p50_s),
    ]


def _engine_burst(kind):
    """The engine's figures for the same burst from results/burst.json (run_all runs burst.py first): `kind` is
    "trivial" (spawned) or "fast_start"."""
    path = RESULTS_DIR / f"burst{'.smoke' if SMOKE else ''}.json"
    try:
        burst = json.loads(path.read_text())["details"][kind]
    except (FileNotFoundError, KeyError, ValueError, TypeError):
        return None
    return {
        "started_within_minute": burst.get("started_within_minute"),
        "spread_s": burst.get("spread_s"),
        "p50_s": (burst.get("first_instruction_ms") or {}).get("p50", 0) / 1000,
        "from": str(path),
    }


if __name__ == "__main__":
    main()
