"""Baseline: system cron (Debian's `cron`, installed by `make bench`) on the same bursts as the engine: 100 jobs
due in one minute, then 1,000 in the next, each running the same `noop.py`, which stamps its first instruction.
Slot -> first instruction beside the engine's figures of lines 2b and 3 (bench/results/punctuality.json and
burst.json, when the same `make bench` ran them: line 2c passes when the engine is not behind cron). The jobs go in a file of /etc/cron.d, removed at the end; the cron daemon is
started if it is not running, and stopped again if this script started it."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    PYTHON, RESULTS_DIR, SCRIPTS_DIR, SMOKE, median, next_slot, percentile, print_rows, row, sleep_until,
    write_result,
)

BURSTS = {"a": 100, "b": 1000}  # TASK_ID prefix -> jobs due in one minute (a's minute, then b's)
CRON_D = Path("/etc/cron.d")
LEAD = 70  # seconds: cron reads /etc/cron.d when it wakes at a minute, so the file must be there a minute ahead


def cron_running() -> bool:
    return subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0


def start_cron():
    """Start the daemon if it is installed and not running; returns its pid if this script started it."""
    if cron_running() or not shutil.which("cron"):
        return None
    subprocess.run(["cron"], check=True)
    time.sleep(1)
    found = subprocess.run(["pgrep", "-x", "cron"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


def same_run(name):
    """The results of an earlier benchmark of the same `make bench` (run_all.py sets BENCH_RUN), or None."""
    try:
        result = json.loads((RESULTS_DIR / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
    run = os.environ.get("BENCH_RUN")
    return result if run and result.get("run") == run else None


def engine_figure(name, prefix):
    """The engine's row of an earlier benchmark of the same run, or None."""
    result = same_run(name)
    rows = result["rows"] if result else []
    return next((r for r in rows if r["measurement"].startswith(prefix)), None)


def against_engine(hundred):
    """Line 2c: the engine's slot -> first instruction of the same 100-job minute (line 2b, measured by
    punctuality earlier in the same run) beside system cron's; the engine must not be behind, p50 nor p99."""
    result = same_run("punctuality")
    engine = (result or {}).get("details", {}).get("punctuality_start_ms") or []
    label = "2c. same 100 tasks: slot -> script's first instruction, engine (line 2b) vs system cron, p50 / p99"
    if not engine or not hundred:
        why = "punctuality not run in this make bench" if not engine else "system cron started none"
        return row(f"{label} ({why})", None, bar="engine not behind system cron", passed=None)
    e50, e99, c50, c99 = (percentile(engine, 50), percentile(engine, 99), percentile(hundred, 50),
                          percentile(hundred, 99))
    return row(f"{label} ({len(engine)} and {len(hundred)} of 100 started)", f"{e50:.0f} / {e99:.0f} ms",
               f"{c50:.0f} / {c99:.0f} ms", ratio=e50 / c50 if c50 else None,
               bar="engine not behind system cron (p50 and p99)", passed=e50 <= c50 and e99 <= c99)


def main():
    if SMOKE or not shutil.which("cron") or not os.access(CRON_D, os.W_OK):
        why = "smoke run" if SMOKE else "Debian's cron is not installed or /etc/cron.d is not writable"
        rows = [row(f"2c. system cron: 100 and 1,000 jobs due in one minute ({why})", None, bar="-", passed=None)]
        write_result("system_cron", rows, {"error": why})
        print_rows(rows)
        return
    started_pid = start_cron()
    stamps = Path(tempfile.mkdtemp(prefix="bench-cron-"))
    first = next_slot(min_lead=LEAD)
    slots = {"a": first, "b": first + timedelta(minutes=1)}
    crontab = CRON_D / f"tasks-bench-{os.getpid()}"
    lines = ["# written by bench/system_cron.py; removed when it ends", "SHELL=/bin/sh"]
    for prefix, count in BURSTS.items():
        local = datetime.fromtimestamp(slots[prefix].timestamp())  # cron reads the machine's local time
        for i in range(count):
            lines.append(f"{local.minute} {local.hour} {local.day} {local.month} * root BENCH_STAMP_DIR={stamps} "
                         f"TASK_ID={prefix}{i:05d} {PYTHON} {SCRIPTS_DIR / 'noop.py'}")
    try:
        crontab.write_text("\n".join(lines) + "\n")
        os.chmod(crontab, 0o644)
        os.utime(CRON_D)  # cron notices the folder's change when it next wakes
        sleep_until(slots["b"] + timedelta(seconds=40))
    finally:
        crontab.unlink(missing_ok=True)
        if started_pid:
            os.kill(started_pid, signal.SIGTERM)
    found = {"a": [], "b": []}
    for path in stamps.iterdir():
        parts = path.read_text().split()
        if len(parts) > 1 and parts[1][:1] in found:
            prefix = parts[1][0]
            found[prefix].append((int(parts[0]) - int(slots[prefix].timestamp() * 1e9)) / 1e6)
    shutil.rmtree(stamps, ignore_errors=True)

    hundred, thousand = sorted(found["a"]), sorted(found["b"])
    engine_3 = engine_figure("burst", "3. burst: last of 1000")
    rows = [
        against_engine(hundred),
        row(f"3c. burst of 1000 under system cron: last script started after the minute ({len(thousand)} of 1,000 "
            f"started; engine: line 3)", engine_3["engine_value"] if engine_3 else None,
            thousand[-1] / 1000 if thousand else None, unit="s", bar="information (system cron as baseline)",
            passed=None),
        row("3c. same burst under system cron: median start after the minute", None,
            median(thousand) / 1000 if thousand else None, unit="s", bar="information", passed=None),
    ]
    write_result("system_cron", rows, {"slots": {k: v.isoformat() for k, v in slots.items()},
                                       "ms_after_slot": {"100": hundred, "1000": thousand},
                                       "started_cron": bool(started_pid)})
    print_rows(rows)


if __name__ == "__main__":
    main()
