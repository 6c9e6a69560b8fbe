"""Measurements 1 and 2: launch overhead (a task's fire time to its script's first instruction) against a
bare subprocess spawn of the same script, spawned (the default) and with fast start (task_fast_start: the
shepherd forked by the fork server), and the fire lateness of 100 tasks due in the same minute.

Cron fires once a minute at most, so launch overhead is sampled one task per minute, alone on an idle
machine: the /bin/true-like script (noop.py) and the Python script (typical.py) in alternate minutes. The
bare spawns of the baseline run in the same minutes, a few seconds after the engine's launch, so both see
the same machine (other work on it moves both)."""
import re
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import bare_spawn_latencies  # noqa: E402
from common import (  # noqa: E402
    SMOKE, Workspace, cron_at, dt_to_ns, median, next_slot, percentile, print_rows, row, sleep_until, utc_now,
    wait_until, write_result,
)

SCRIPTS = {"noop.py": "/bin/true-like script", "typical.py": "Python script"}
LAUNCH_ROUNDS = 1 if SMOKE else 3  # minutes per script kind
PUNCTUAL_TASKS = 5 if SMOKE else 100


BARE_PER_MINUTE = 3 if SMOKE else 15


def handed_over(sched) -> dict:
    """{task id: when its run was handed to the executor}: the engine writes one line for a run handed over alone
    ("Task a: execution 1 starts") and one for the runs of a slot handed over together ("100 executions start:
    schedule for slot ...: task a execution 1, task b execution 2, ...")."""
    found = sched.log_times(r"Task (\S+): execution \d+ starts")
    for when, match in sched.log_lines(r"\d+ executions start: (.*)$"):
        for task_id in re.findall(r"task (\S+) execution \d+", match.group(2)):
            found.setdefault(task_id, when)
    return found


def main():
    baseline = {s: [] for s in SCRIPTS}

    ws = Workspace("punctuality").migrate()
    ws.setup_django()
    first = next_slot(min_lead=15)
    plan = []  # (slot, script, fast start) for the launch-overhead samples, one task alone in its minute
    minute = 0
    for _ in range(LAUNCH_ROUNDS):
        for fast in (False, True):
            for script in SCRIPTS:
                plan.append((first + timedelta(minutes=minute), script, fast))
                minute += 1
    burst_slot = first + timedelta(minutes=minute)
    for i, (slot, script, fast) in enumerate(plan):
        ws.add_tasks(1, script=script, schedule=cron_at(slot), prefix=f"launch{i}-", task_fast_start=fast)
    ws.add_tasks(PUNCTUAL_TASKS, script="noop.py", schedule=cron_at(burst_slot), prefix="punct")

    sched = ws.start_scheduler(instrumented=True)  # log times in ms: where a launch spends its time
    try:
        ready_s = sched.wait_ready(timeout=60)
        print(f"scheduler ready in {ready_s:.2f} s; first slot {first:%H:%M}, burst at {burst_slot:%H:%M}")
        for slot, script, _fast in plan:
            sleep_until(slot + timedelta(seconds=3))
            baseline[script] += bare_spawn_latencies(script, BARE_PER_MINUTE)
        sleep_until(burst_slot + timedelta(seconds=2))
        expected = len(plan) + PUNCTUAL_TASKS
        wait_until(lambda: len(ws.stamps()) >= expected, 60, interval=0.2, what=f"{expected} script runs")
        wait_until(lambda: all(e["end_time"] for e in ws.executions()), 30, interval=0.2, what="runs recorded")
    finally:
        sched.stop()
    submitted = handed_over(sched)
    spawned = sched.log_times(r"Started task (\S+) execution")

    stamps = {s["task_id"]: s["ns"] for s in ws.stamps()}
    executions = {e["task__task_id"]: e for e in ws.executions()}
    launch = {(script, fast): [] for script in SCRIPTS for fast in (False, True)}
    phases = []  # where the launch time goes: slot -> row inserted -> handed over -> first instruction
    for i, (slot, script, fast) in enumerate(plan):
        task_id = f"launch{i}-00000"
        if task_id in stamps:
            launch[script, fast].append((stamps[task_id] - dt_to_ns(slot)) / 1e6)
            e = executions.get(task_id)
            if e and task_id in submitted and task_id in spawned:
                phases.append({
                    "script": script,
                    "fast_start": fast,
                    "start": (e["limits"] or {}).get("start", "spawned"),
                    "slot_to_row_inserted_ms": (e["queued_at"] - slot).total_seconds() * 1000,
                    "slot_to_handed_to_executor_ms": (submitted[task_id] - slot).total_seconds() * 1000,
                    "handed_to_first_instruction_ms": (stamps[task_id] - dt_to_ns(submitted[task_id])) / 1e6,
                    # The engine logs "Started" when the shepherd reports the start, which for a run set up
                    # ahead of its slot comes after the script's first instruction: information only.
                    "handed_to_start_reported_ms": (spawned[task_id] - submitted[task_id]).total_seconds() * 1000,
                })
    # The engine may claim a slot's row a moment before the slot and start the process at the slot, so
    # the fire is when it hands the run to its executor (its "starts" log line, in ms), or failing that
    # the start_time it recorded.
    fire_ms, start_ms = [], []
    for task_id, e in executions.items():
        if task_id.startswith("punct"):
            slot = e["scheduled_time"]
            fired = submitted.get(task_id) or e["start_time"]
            fire_ms.append((fired - slot).total_seconds() * 1000)
            if task_id in stamps:
                start_ms.append((stamps[task_id] - dt_to_ns(slot)) / 1e6)

    rows = []
    for script, label in SCRIPTS.items():
        engine, bare = median(launch[script, False]), median(baseline[script])
        rows.append(row(
            f"1. launch overhead, {label}: fire time -> first instruction, median", engine, bare, unit="ms",
            bar="<= 1.5x bare spawn",
            passed=None if engine is None else engine <= 1.5 * bare,
        ))
    for script, label in SCRIPTS.items():
        engine, bare = median(launch[script, True]), median(baseline[script])
        rows.append(row(
            f"1f. launch overhead with fast start, {label}: fire time -> first instruction, median", engine, bare,
            unit="ms", bar="<= 0.5x bare spawn",
            passed=None if engine is None else engine <= 0.5 * bare,
        ))
    p50, p99 = percentile(fire_ms, 50), percentile(fire_ms, 99)
    rows.append(row(
        f"2. punctuality: fire lateness (run handed to the executor - cron slot) of {PUNCTUAL_TASKS} tasks due"
        " in one minute, p50 / p99",
        f"{p50:.1f} / {p99:.1f} ms" if fire_ms else None, bar="p50 <= 5 ms, p99 <= 50 ms",
        passed=bool(fire_ms) and len(fire_ms) == PUNCTUAL_TASKS and p50 <= 5 and p99 <= 50,
    ))
    if start_ms:
        rows.append(row(
            f"2b. same {PUNCTUAL_TASKS} tasks, slot -> script's first instruction (waits for one of the workers),"
            " p50 / p99 (information)",
            f"{percentile(start_ms, 50):.0f} / {percentile(start_ms, 99):.0f} ms", bar="-", passed=None,
        ))
    details = {
        "bare_spawn_ms": baseline,
        "engine_launch_ms": {f"{script}{' fast start' if fast else ''}": ms for (script, fast), ms in launch.items()},
        "engine_launch_phases": phases,
        "punctuality_fire_ms": sorted(fire_ms),
        "punctuality_start_ms": sorted(start_ms),
        "ready_s": ready_s,
        "executions": len(executions),
        "workspace": str(ws.dir),
        "ended": utc_now().isoformat(),
    }
    write_result("punctuality", rows, details)
    print_rows(rows)
    ws.cleanup()


if __name__ == "__main__":
    main()
