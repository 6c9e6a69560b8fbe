"""Quick probe (not the benchmark suite): how long the TaskExecutor takes from "run this" to the script's
first instruction, beside a bare subprocess spawn of the same script from a minimal Python program,
and the engine's own CPU time per execution. `--early`: each run prepared first as a run held for its slot is
(preparation.prepare_early, PREPARE_LEAD s before), timed from the "slot"; `--fast`: its task wants fast start.
`--held`: each run held for a real slot by the engine's Dispatcher (its slot watch hands it over at the slot to a
LocalExecutor of SCHEDULER_MAX_WORKERS), prepared as the engine prepares it, timed from the slot (the engine CPU
column is then the executor thread's only). `--idle S`: the process sleeps S seconds before each run (each slot
then finds the machine cold, as the bench's line 1f does after an idle minute).
Usage: .venv/bin/python bench/launch_overhead_probe.py [runs] [--early] [--fast] [--held] [--idle S]"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IDLE = float(sys.argv[sys.argv.index("--idle") + 1]) if "--idle" in sys.argv else 0.0
ARGS = [a for before, a in zip(sys.argv, sys.argv[1:]) if not a.startswith("--") and before != "--idle"]
RUNS = int(ARGS[0]) if ARGS else 50
HELD = "--held" in sys.argv
EARLY, FAST = "--early" in sys.argv or HELD, "--fast" in sys.argv
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
    if HELD:
        return held_run(execution, stamp)
    if EARLY:
        prepare_early(execution)
        time.sleep(PREPARE_LEAD)
    t0, c0 = time.monotonic(), time.thread_time()
    result = run_execution(execution)
    cpu = time.thread_time() - c0
    assert result.status == "success", result
    return float(stamp.read_text()) - t0, cpu


class _Held:
    """The engine's Dispatcher and pool, made once (as the engine keeps them), for --held."""
    dispatcher = None
    ended = None
    cpu = {}  # execution id -> the executor thread's CPU for the run


def held_run(execution, stamp):
    import threading

    from django.utils import timezone

    from tasks_app.engine.dispatch import Dispatcher
    from tasks_app.engine.executor import LocalExecutor
    from tasks_app.engine.registry import RunRegistry
    from tasks_app.engine.runner import run_execution

    if _Held.dispatcher is None:
        class Timed(LocalExecutor):
            def _run(self, job):
                c0 = time.thread_time()
                super()._run(job)
                _Held.cpu[job.execution.execution_id] = time.thread_time() - c0

        journal = type("Journal", (), {"record": lambda *a: None, "done": lambda *a: None})()
        _Held.ended = threading.Event()
        _Held.dispatcher = Dispatcher(RunRegistry(), Timed(), journal, _Held.ended)
    dispatcher, ended = _Held.dispatcher, _Held.ended
    execution.trigger = "schedule"
    execution.scheduled_time = timezone.now() + timedelta(seconds=PREPARE_LEAD)
    slot = time.monotonic() + (execution.scheduled_time.timestamp() - time.time())
    ended.clear()
    dispatcher.carry_out(type("Plan", (), {"stop": [], "unwait": [], "wait": [], "run": [execution], "notify": []})())
    dispatcher.prepare_held()  # what the engine thread does after its claim
    assert ended.wait(30), "the run did not end"
    ((_, result),) = dispatcher.take_finished()
    dispatcher.forget(execution)
    assert result.status == "success", result
    return float(stamp.read_text()) - slot, _Held.cpu.pop(execution.execution_id)


def main():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")
    os.environ["LOG_LEVEL"] = "WARNING"  # keep the console quiet; the task log lines are still written
    import django

    django.setup()
    import tasks_app.admin  # noqa: F401  (a parent as large as the scheduler's)

    print(f"early: {EARLY}, held by the dispatcher: {HELD}, fast start: {FAST}, idle: {IDLE} s, runs: {RUNS}")
    print(f"{'script':<8} {'bare ms':>8} {'engine ms':>10} {'ratio':>6} {'engine CPU ms/run':>18}")
    for name in SCRIPTS:
        # Interleaved, so that a burst of load elsewhere on the machine hits both sides alike.
        b, e, cpu = [], [], []
        for i in range(RUNS):
            time.sleep(IDLE)  # before each side alike: the bare spawn is cold too
            b.append(bare(name))
            time.sleep(IDLE)
            latency, used = engine_run(name, i)
            e.append(latency)
            cpu.append(used)
        if IDLE:  # few runs, each cold: every pair counts
            print(f"{name:<8} pairs (bare / engine ms): " + ", ".join(f"{x * 1000:.2f}/{y * 1000:.2f}" for x, y in zip(b, e)))
        b, e = statistics.median(b) * 1000, statistics.median(e) * 1000
        print(f"{name:<8} {b:8.2f} {e:10.2f} {e / b:6.2f} {statistics.median(cpu) * 1000:18.2f}")
    if _Held.dispatcher is not None:
        _Held.dispatcher.close()
        _Held.dispatcher.executor.shutdown(1)
    from tasks_app.engine import forkserver

    forkserver.stop()

if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
