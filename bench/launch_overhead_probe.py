"""Quick probe (not the benchmark suite): how long the TaskExecutor takes from "run this" to the script's
first instruction, beside a bare subprocess spawn of the same script from a minimal Python program,
and the engine's own CPU time per execution. `--early`: each run prepared first as a run held for its slot is
(preparation.prepare_early, PREPARE_LEAD s before), timed from the "slot"; `--fast`: its task wants fast start.
Usage: .venv/bin/python bench/launch_overhead_probe.py [runs] [--early] [--fast]"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
RUNS = int(ARGS[0]) if ARGS else 50
EARLY, FAST = "--early" in sys.argv, "--fast" in sys.argv
PREPARE_LEAD = 0.3  # seconds between the preparation and the slot: the engine prepares up to 0.5 s ahead
WORK = Path(tempfile.mkdtemp(prefix="launch_probe_"))
os.environ.update(TASKS_DIR=str(WORK / "tasks"), LOGS_DIR=str(WORK / "logs"), CONF_DIR=str(WORK / "conf"))
(WORK / "tasks").mkdir()
SCRIPTS = {
    "trivial": "import os, time\nopen(os.environ['STAMP'], 'w').write(repr(time.monotonic()))\n",
    "python": "import os, time\nopen(os.environ['STAMP'], 'w').write(repr(time.monotonic()))\n"
              "import json, logging, datetime, subprocess\n",
}
for name, text in SCRIPTS.items():
    (WORK / "tasks" / f"{name}.py").write_text(text)

BARE = textwrap.dedent("""
    import os, subprocess, sys, time
    script, stamp = sys.argv[1], sys.argv[2]
    t0 = time.monotonic()
    subprocess.Popen([sys.executable, script], env={"STAMP": stamp, "PATH": "/usr/bin:/bin"}).wait()
    print(float(open(stamp).read()) - t0)
""")


def bare(name):
    stamp = WORK / "bare.stamp"
    out = subprocess.run([sys.executable, "-c", BARE, str(WORK / "tasks" / f"{name}.py"), str(stamp)],
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def engine_run(name, i):
    from tasks_app.engine.preparation import prepare_early
    from tasks_app.engine.runner import run_execution
    from tasks_app.models import Task, TaskExecution

    stamp = WORK / "engine.stamp"
    task = Task(task_id=f"probe-{name}", task_name="probe", task_exec=f"{name}.py", task_env={"STAMP": str(stamp)},
                task_fast_start=FAST)
    execution = TaskExecution(execution_id=i + 1, task=task)
    if EARLY:
        prepare_early(execution)
        time.sleep(PREPARE_LEAD)
    t0, c0 = time.monotonic(), time.thread_time()
    result = run_execution(execution)
    cpu = time.thread_time() - c0
    assert result.status == "success", result
    return float(stamp.read_text()) - t0, cpu


def main():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")
    os.environ["LOG_LEVEL"] = "WARNING"  # keep the console quiet; the task log lines are still written
    import django

    django.setup()
    import tasks_app.admin  # noqa: F401  (a parent as large as the scheduler's)

    print(f"early: {EARLY}, fast start: {FAST}, runs: {RUNS}")
    print(f"{'script':<8} {'bare ms':>8} {'engine ms':>10} {'ratio':>6} {'engine CPU ms/run':>18}")
    for name in SCRIPTS:
        # Interleaved, so that a burst of load elsewhere on the machine hits both sides alike.
        b, e, cpu = [], [], []
        for i in range(RUNS):
            b.append(bare(name))
            latency, used = engine_run(name, i)
            e.append(latency)
            cpu.append(used)
        b, e = statistics.median(b) * 1000, statistics.median(e) * 1000
        print(f"{name:<8} {b:8.2f} {e:10.2f} {e / b:6.2f} {statistics.median(cpu) * 1000:18.2f}")
    from tasks_app.engine import forkserver

    forkserver.stop()

if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
