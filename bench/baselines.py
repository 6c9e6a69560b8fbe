"""The best this machine can do, measured beside the engine: a bare subprocess spawn, a bare pool of workers
spawning the same script, and bare APScheduler holding the same jobs. Run alone it prints all three."""
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PYTHON, SCRIPTS_DIR, SMOKE, machine_busy_seconds, median, percentile  # noqa: E402


def _read_stamps(stamp_dir: Path) -> list[int]:
    return sorted(int(p.read_text().split()[0]) for p in stamp_dir.iterdir())


def bare_spawn_latencies(script: str, runs: int = 30) -> list[float]:
    """Milliseconds from "decided to spawn" to the script's first instruction, one spawn at a time,
    from this minimal program (plain subprocess.Popen, output to a file as the engine keeps it)."""
    latencies = []
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
        stamp_dir = Path(tmp)
        env = {**os.environ, "BENCH_STAMP_DIR": str(stamp_dir)}
        out_path = stamp_dir.parent / f"{stamp_dir.name}.out"
        with open(out_path, "wb") as out:
            for _ in range(runs):
                for p in stamp_dir.iterdir():
                    p.unlink()
                decided = time.time_ns()
                proc = subprocess.Popen([PYTHON, str(SCRIPTS_DIR / script)], env=env, stdout=out, stderr=out)
                proc.wait()
                (stamp,) = _read_stamps(stamp_dir)
                latencies.append((stamp - decided) / 1e6)
                time.sleep(0.02)  # an idle machine between spawns, as between cron fires
        out_path.unlink()
    return latencies


def bare_pool(script: str, count: int, workers: int) -> dict:
    """`count` runs of the script through `workers` threads that each spawn and wait, all submitted at once.
    Returns when the last one started (ms after submission) and the start rate (runs per second)."""
    with tempfile.TemporaryDirectory(prefix="bench-pool-") as tmp:
        stamp_dir = Path(tmp)
        env = {**os.environ, "BENCH_STAMP_DIR": str(stamp_dir)}

        def run_one(_):
            subprocess.run(
                [PYTHON, str(SCRIPTS_DIR / script)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )

        busy0, begin = machine_busy_seconds(), time.time_ns()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run_one, range(count)))
        finished, busy1 = time.time_ns(), machine_busy_seconds()
        stamps = _read_stamps(stamp_dir)
    last_start_ms = (stamps[-1] - begin) / 1e6
    return {
        "script": script,
        "count": count,
        "workers": workers,
        "started": len(stamps),
        "last_start_ms": last_start_ms,
        "start_p50_ms": percentile([(s - begin) / 1e6 for s in stamps], 50),
        "start_rate_per_s": len(stamps) / (last_start_ms / 1000),
        "total_s": (finished - begin) / 1e9,
        "completion_rate_per_s": count / ((finished - begin) / 1e9),
        "machine_cpu_ms_per_run": (busy1 - busy0) * 1000 / count,
    }


APSCHEDULER_HOLDER = r"""
import json, sys, time
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.triggers.cron import CronTrigger

def job(task_id):
    pass

fields = json.loads(sys.stdin.readline())
scheduler = BackgroundScheduler(jobstores={"default": MemoryJobStore()}, timezone="UTC")
scheduler.start()
for i, (minute, hour, day, month) in enumerate(fields):
    # The same schedules as the engine's tasks in the scale benchmark.
    scheduler.add_job(job, CronTrigger(minute=minute, hour=hour, day=day, month=month, timezone="UTC"),
                      args=[f"t{i:05d}"], id=f"t{i:05d}")
print("ready", flush=True)
time.sleep(3600)
"""


def bare_apscheduler_rss_kb(jobs: int) -> int:
    """Resident memory of a bare APScheduler process (BackgroundScheduler, MemoryJobStore) holding `jobs` cron jobs."""
    import json

    from common import proc_rss_kb, yearly_fields

    proc = subprocess.Popen([PYTHON, "-c", APSCHEDULER_HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        proc.stdin.write(json.dumps([yearly_fields(i) for i in range(jobs)]) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        assert line.strip() == "ready", line
        time.sleep(1.0)  # let the scheduler thread settle
        return proc_rss_kb(proc.pid)
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    runs = 5 if SMOKE else 30
    for script in ("noop.py", "typical.py"):
        lat = bare_spawn_latencies(script, runs)
        print(f"bare spawn {script}: median {median(lat):.2f} ms, p90 {percentile(lat, 90):.2f} ms")
    count = 20 if SMOKE else 1000
    for script in ("noop.py", "typical.py"):
        print("bare pool", bare_pool(script, count, 8))
    print("bare APScheduler RSS KB:", bare_apscheduler_rss_kb(100 if SMOKE else 10000))
