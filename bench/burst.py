"""Measurements 3 and 5: the midnight burst (1,000 enabled tasks due in the same minute) and the engine's
bookkeeping per execution, against a bare pool of the same size spawning the same script.

The /bin/true-like burst runs first; when it has drained, the Python-script burst is added for the next
minute and the scheduler restarted; then the /bin/true-like burst again with fast start (task_fast_start: each
run's shepherd forked by the fork server instead of spawned). The scheduler runs through instrumented_scheduler.py, which counts
its SQLite write transactions."""
import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import bare_pool  # noqa: E402
from common import (  # noqa: E402
    PYTHON, ROOT, SMOKE, Workspace, cron_at, dt_to_ns, machine_busy_seconds, next_slot, percentile, print_rows, row, sleep_until, utc_now, wait_until,
    write_result,
)


def run_burst(ws, script, prefix, count, timeout, **fields):
    """Create `count` tasks due at the next minute, run the scheduler through it; returns the figures."""
    slot = next_slot(min_lead=20)
    ws.add_tasks(count, script=script, schedule=cron_at(slot), prefix=prefix, **fields)
    sched = ws.start_scheduler(count_commits=True)
    try:
        ready_s = sched.wait_ready(timeout=60)
        sleep_until(slot - timedelta(seconds=1))
        cpu0, commits0, busy0 = sched.cpu_seconds(), sched.counters().get("commits", 0), machine_busy_seconds()
        idle_from = utc_now()
        # Everything fired must end in a record; give up after `timeout` s and count what is missing.
        try:
            wait_until(lambda: _finished(ws, prefix) >= count, timeout, interval=0.5, what=f"{count} records")
        except TimeoutError:
            pass
        cpu1, commits1, busy1 = sched.cpu_seconds(), sched.counters().get("commits", 0), machine_busy_seconds()
        window_s = (utc_now() - idle_from).total_seconds()
    finally:
        sched.stop()

    executions = [e for e in ws.executions() if e["task__task_id"].startswith(prefix)]
    stamps = [s for s in ws.stamps() if s["task_id"].startswith(prefix)]
    slot_ns = dt_to_ns(slot)
    per_task = Counter(e["task__task_id"] for e in executions if e["trigger"] == "schedule")
    first_ins = sorted((s["ns"] - slot_ns) / 1e6 for s in stamps)
    spawned = sorted((e["start_time"] - slot).total_seconds() * 1000 for e in executions if e["start_time"])
    ended = [e["end_time"] for e in executions if e["end_time"]]
    last_end_s = (max(ended) - slot).total_seconds() if ended else None
    return {
        "script": script,
        "count": count,
        "slot": slot.isoformat(),
        "ready_s": ready_s,
        "records": len(executions),
        "tasks_with_a_record": len(per_task),
        "tasks_with_two_records": sum(1 for n in per_task.values() if n > 1),
        "statuses": dict(Counter(e["status"] for e in executions)),
        "script_runs": len(stamps),
        "first_instruction_ms": {"p50": percentile(first_ins, 50), "max": first_ins[-1] if first_ins else None},
        "spawned_ms": {"p50": percentile(spawned, 50), "max": spawned[-1] if spawned else None},
        "started_within_minute": sum(1 for ms in first_ins if 0 <= ms < 60_000),
        "spread_s": (first_ins[-1] - first_ins[0]) / 1000 if first_ins else None,
        "start_rate_per_s": len(first_ins) / (first_ins[-1] / 1000) if first_ins else None,
        "records_per_s": len(ended) / last_end_s if last_end_s else None,
        "engine_cpu_ms_per_execution": (cpu1 - cpu0) * 1000 / max(1, len(ended)),
        "machine_cpu_ms_per_execution": (busy1 - busy0) * 1000 / max(1, len(ended)),
        "commits_per_execution": (commits1 - commits0) / max(1, len(ended)),
        "window_s": window_s,
        "errors": Counter(e["error_message"] for e in executions if e["error_message"]).most_common(3),
        "starts": dict(Counter((e["limits"] or {}).get("start", "spawned") for e in executions)),
    }


def _finished(ws, prefix):
    from tasks_app.models import TaskExecution

    return TaskExecution.objects.filter(task__task_id__startswith=prefix, end_time__isnull=False).count()


def on_postgresql(count, workers) -> dict | None:
    """The noop burst again on PostgreSQL (BENCH_POSTGRES_URL, a scratch database this empties), in a process of
    its own (Django reads its database settings once per process); None without BENCH_POSTGRES_URL."""
    if not os.environ.get("BENCH_POSTGRES_URL"):
        return None
    out = subprocess.run([PYTHON, __file__, "--db", "postgresql", "--count", str(count), "--workers", str(workers)]
                         + (["--smoke"] if SMOKE else []), cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))[7:])


def measure_postgresql(count, workers):
    ws = Workspace("burst-pg", workers=workers, extra_env={"DATABASE_URL": os.environ["BENCH_POSTGRES_URL"]})
    for command in (["migrate", "--noinput", "-v", "0"], ["flush", "--noinput", "-v", "0"]):
        subprocess.run([PYTHON, str(ROOT / "manage.py"), *command], env=ws.env, cwd=ROOT, check=True)
    ws.setup_django()
    found = run_burst(ws, "noop.py", "burstpg", count, timeout=max(60, count * 0.2))
    ws.cleanup()
    print("RESULT " + json.dumps(found, default=str), flush=True)


def throughput_rows(label, r, bare_rec, workers) -> list[dict]:
    """Line 5 of one database: records per second against the bare pool, and the engine's own CPU per run with
    the ceiling it sets (the engine's threads share one interpreter: one core's worth of its CPU at most)."""
    cpu, rec = r["engine_cpu_ms_per_execution"], r["records_per_s"]
    return [
        row(f"5. engine CPU time per execution, outside the child ({label})", cpu, unit="ms", bar="<= 5 ms",
            passed=cpu <= 5),
        row(f"5. engine's ceiling: executions per second its own CPU allows, one core / CPU per execution ({label})",
            1000 / cpu if cpu else None, bare_rec, unit="/s", bar="information", passed=None),
        row(f"5. executions recorded per second ({label}, {workers} workers)", rec, bare_rec, unit="/s",
            bar=">= 100/s", passed=rec is not None and rec >= 100),
    ]


def fast_rows(count, workers, fast, pool) -> list[dict]:
    """Lines 3f and 5f: the fast-start burst against the bare pool spawning noop.py."""
    f_last, f_rec, bare_rec = fast["first_instruction_ms"]["max"], fast["records_per_s"], pool["completion_rate_per_s"]
    cores = os.cpu_count() or 1
    f_cpu, bare_cpu = fast.get("machine_cpu_ms_per_execution"), pool.get("machine_cpu_ms_per_run")
    return [
        # What the 2 s bar asks of the machine: every process's CPU for one run (engine, fork server, shepherd,
        # script, kernel), times the runs, spread over every core, cannot take less than that many seconds.
        row(f"3f. same burst: the whole machine's CPU per run (all processes; {count} runs on {cores} cores need"
            f" at least {count} x this / {cores}; baseline: the bare pool's spawn of noop.py)", f_cpu, bare_cpu,
            unit="ms", bar=f"information (<= 2 s needs <= {2000 * cores / count:.1f} ms)", passed=None),
        row(f"3f. burst with fast start: last of {count} /bin/true-like scripts started (first instruction) after the"
            " minute", f_last / 1000 if f_last else None, pool["last_start_ms"] / 1000, unit="s",
            bar="<= 2 s", passed=f_last is not None and f_last <= 2000),
        row(f"5f. executions recorded per second with fast start (SQLite WAL, {workers} workers)", f_rec, bare_rec,
            unit="/s", bar=">= 300/s and >= 1.0x bare pool",
            passed=f_rec is not None and f_rec >= 300 and f_rec >= bare_rec),
    ]


def fast_only(count, workers):
    """The fast-start burst alone (a quicker check of 3f and 5f): its figures and rows on stdout."""
    pool = bare_pool("noop.py", count, workers)
    ws = Workspace("burst-fast", workers=workers).migrate()
    ws.setup_django()
    fast = run_burst(ws, "noop.py", "burstfast", count, timeout=max(60, count * 0.2), task_fast_start=True)
    print(json.dumps({k: fast[k] for k in ("first_instruction_ms", "records_per_s", "engine_cpu_ms_per_execution",
                                           "starts", "statuses", "errors")}, default=str))
    print_rows(fast_rows(count, workers, fast, pool))
    ws.cleanup()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=8, help="SCHEDULER_MAX_WORKERS and the bare pool's size")
    parser.add_argument("--count", type=int, default=20 if SMOKE else 1000)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--db", choices=["postgresql"], help="(internal) the PostgreSQL burst alone")
    parser.add_argument("--fast-only", action="store_true",
                        help="only the fast-start burst (3f, 5f) and its bare pool; prints its rows, writes nothing")
    args = parser.parse_args()
    count, workers = args.count, args.workers
    if args.db:
        measure_postgresql(count, workers)
        return
    if args.fast_only:
        fast_only(count, workers)
        return

    pool = {s: bare_pool(s, count, workers) for s in ("noop.py", "typical.py")}
    ws = Workspace("burst", workers=workers).migrate()
    ws.setup_django()
    trivial = run_burst(ws, "noop.py", "burstnoop", count, timeout=max(60, count * 0.2))
    python = run_burst(ws, "typical.py", "burstpy", count, timeout=max(90, count * 0.3))
    fast = run_burst(ws, "noop.py", "burstfast", count, timeout=max(60, count * 0.2), task_fast_start=True)

    rows = []
    for label, r in (("/bin/true-like", trivial), ("Python", python), ("/bin/true-like fast-start", fast)):
        lost = count - r["tasks_with_a_record"]
        rows.append(row(
            f"3. burst of {count} {label} tasks: slots without an execution record", lost, 0,
            bar="0", passed=lost == 0 and r["tasks_with_two_records"] == 0, ratio="-",
        ))
    t_last = trivial["first_instruction_ms"]["max"]
    rows.append(row(
        f"3. burst: last of {count} /bin/true-like scripts started (first instruction) after the minute",
        t_last / 1000 if t_last else None, pool["noop.py"]["last_start_ms"] / 1000, unit="s",
        # The issue sets the 2 s bar for a burst with fast start (line 3f): the bare pool alone needs several
        # seconds here, one interpreter start per run. This line shows where a run without fast start stands.
        bar="information (the 2 s bar is line 3f's, with fast start)", passed=None,
    ))
    cores = os.cpu_count() or 1
    rows.append(row(
        f"3. same burst: the whole machine's CPU per run (all processes; {count} runs on {cores} cores need at least"
        f" {count} x this / {cores}; baseline: the bare pool's)", trivial.get("machine_cpu_ms_per_execution"),
        pool["noop.py"].get("machine_cpu_ms_per_run"), unit="ms",
        bar=f"information (<= 2 s needs <= {2000 * cores / count:.1f} ms)", passed=None,
    ))
    rate, bare_rate = python["start_rate_per_s"], pool["typical.py"]["start_rate_per_s"]
    rows.append(row(
        f"3. burst: Python scripts started per second, {workers} workers", rate, bare_rate, unit="/s",
        bar=">= 0.8x bare pool", passed=rate is not None and rate >= 0.8 * bare_rate,
    ))
    commits = trivial["commits_per_execution"]
    rows.append(row("5. database commits per execution (SQLite)", commits, bar="<= 2", passed=commits <= 2))
    bare_rec = pool["noop.py"]["completion_rate_per_s"]
    rows += throughput_rows("SQLite WAL", trivial, bare_rec, workers)
    postgresql = on_postgresql(count, workers)
    if postgresql is not None:
        rows += throughput_rows("PostgreSQL", postgresql, bare_rec, workers)
    else:
        rows.append(row("5. executions recorded per second (PostgreSQL: BENCH_POSTGRES_URL not set)", None,
                        bar="-", passed=None))
    rows += fast_rows(count, workers, fast, pool["noop.py"])
    write_result("burst", rows, {"bare_pool": pool, "trivial": trivial, "python": python, "fast_start": fast,
                                 "workers": workers, "postgresql": postgresql})
    print_rows(rows)
    ws.cleanup()


if __name__ == "__main__":
    main()
