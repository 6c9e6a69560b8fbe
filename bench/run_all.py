"""`make bench`: run every benchmark (each in its own process, each writing bench/results/<name>.json) and
print one table: measurement | engine | baseline | ratio | bar | result. `--doc FILE` also writes the table
and the machine as Markdown; `--only a,b` runs some; `--table` only prints the last results."""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCH_DIR, PYTHON, RESULTS_DIR, machine  # noqa: E402

# In this order: celery_beat compares itself with burst's results, and the minute-bound ones come first.
BENCHMARKS = ["punctuality", "burst", "celery_exec", "system_cron", "celery_beat", "scale", "recovery", "wakeups", "web", "web_load", "web_ladder", "ops"]
COLUMNS = ["measurement", "engine", "baseline", "ratio", "bar", "result"]


def run(names, smoke):
    failures = {}
    # Marks the results of this run, so that a benchmark comparing itself with an earlier one (system_cron with
    # punctuality) compares within one run only.
    os.environ["BENCH_RUN"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    for name in names:
        print(f"== {name} ==", flush=True)
        started = time.monotonic()
        cmd = [PYTHON, str(BENCH_DIR / f"{name}.py")] + (["--smoke"] if smoke else [])
        code = subprocess.call(cmd)
        print(f"== {name}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failures[name] = code
    return failures


def load(names, smoke):
    results = {}
    for name in names:
        path = RESULTS_DIR / f"{name}{'.smoke' if smoke else ''}.json"
        if path.exists():
            results[name] = json.loads(path.read_text())
    return results


def table(results, failures) -> str:
    """One line per figure, in the issue's order of measurements (each row's name starts with its number)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    rows, errors = [], []
    for name in BENCHMARKS:
        if name in failures:
            errors.append(f"| {name}: benchmark did not finish (exit {failures[name]}) | - | - | - | - | ERROR |")
            continue
        if name not in results:
            errors.append(f"| {name}: not run yet | - | - | - | - | - |")
            continue
        rows += results[name]["rows"]
    rows.sort(key=lambda r: r["measurement"].split(".", 1)[0])
    for r in rows:
        lines.append("| " + " | ".join(str(r[c]).replace("|", "/") for c in COLUMNS) + " |")
    return "\n".join(lines + errors)


def machine_text(info) -> str:
    return (f"{info['cpus']} CPUs ({info['cpu_model']}), {info['ram_gib']} GiB RAM, Linux {info['kernel']}, "
            f"Python {info['python']}, SQLite {info['sqlite']}")


START, END = "<!-- bench:table -->", "<!-- /bench:table -->"


def write_doc(path: Path, block: str):
    """Replace the block between the markers (the hand-written text around it stays), or write it alone."""
    current = path.read_text() if path.exists() else ""
    if START in current and END in current:
        head, rest = current.split(START, 1)
        tail = rest.split(END, 1)[1]
        path.write_text(f"{head}{START}\n{block}{END}{tail}")
    else:
        path.write_text(f"{START}\n{block}{END}\n")


def _when(results) -> str:
    times = sorted(r.get("when", "") for r in results.values() if r.get("when"))
    return f"{times[0]} to {times[-1]} UTC" if times else "never"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to check the scripts run")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--table", action="store_true", help="print the table of the last results only")
    parser.add_argument("--doc", help="write the table and the machine as Markdown to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a bar is missed")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else BENCHMARKS
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(BENCHMARKS)}")
    failures = {} if args.table else run(names, args.smoke)
    results = load(BENCHMARKS, args.smoke)
    text = table(results, failures)
    print()
    print(f"Machine: {machine_text(machine())}")
    print(text)
    if args.doc:
        write_doc(Path(args.doc), f"Machine: {machine_text(machine())}, measured {_when(results)}.\n\n{text}\n")
    missed = any(r["result"] == "FAIL" for res in results.values() for r in res["rows"])
    sys.exit(1 if failures or (args.strict and missed) else 0)


if __name__ == "__main__":
    main()
