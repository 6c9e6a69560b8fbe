"""Central logs on PostgreSQL: what a worker's shipping costs per run and per megabyte, what a 1 GiB task log
costs (it never passes through the database as a whole: the shipper keeps to the task's cap), and what reading
the central log costs the pages and the API next to reading the same bytes from a local file.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<a throwaway database> python bench/central_logs.py [--smoke]

The database is migrated and its chunks deleted first: never point it at a database you keep."""
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import SMOKE, median, print_rows, row, write_result  # noqa: E402

RUNS = 30 if SMOKE else 200
BIG_LOG = (64 if SMOKE else 1024) * 1024 * 1024
LINE = b"2026-11-29 12:00:00 - INFO - bench - " + b"x" * 83 + b"\n"  # 121 bytes, a typical log line


def setup():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("DATABASE_URL must name a throwaway PostgreSQL database")
    work = Path(tempfile.mkdtemp(prefix="bench-clogs-"))
    os.environ.update(LOGS_DIR=str(work / "logs"), CONF_DIR=str(work / "conf"),
                      DJANGO_SETTINGS_MODULE="scheduler_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return work


def peak_rss_mib(reset=False) -> float:
    """The process's peak resident memory (VmHWM); `reset` starts a new peak from now (Linux's clear_refs)."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed(fn, *args):
    began = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - began, result


def main():
    work = setup()
    from django.conf import settings

    from tasks_app.engine.trouble import DatabaseTrouble
    from tasks_app.engine.workers.shipper import LogShipper
    from tasks_app.logs.tail import LogFilter, read_from, tail
    from tasks_app.models import ExecutionLogChunk, ExecutionStatus, Task, TaskExecution
    from tasks_app.models.logchunk import central_log_cap

    ExecutionLogChunk.objects.all().delete()
    Task.objects.filter(task_id__startswith="bench-clogs").delete()
    task = Task.objects.create(task_id="bench-clogs", task_name="bench", task_exec="ok.py", task_schedule="")
    node = SimpleNamespace(name="bench@host:1", _done=threading.Event(), trouble=DatabaseTrouble())
    shipper = LogShipper(node)
    log_path = Path(settings.LOGS_DIR) / "task_bench-clogs.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    rows, details = [], {}

    # 1. A short run: three log lines and two output lines, shipped by begin + one round + finish.
    costs, cpu = [], []
    for _ in range(RUNS):
        run = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, node=node.name)
        run.output_path.parent.mkdir(parents=True, exist_ok=True)
        began, began_cpu = time.perf_counter(), time.process_time()
        shipper.begin(run)
        with open(log_path, "ab") as f:
            f.write(LINE * 3)
        run.output_path.write_bytes(b"hello\nworld\n")
        shipper.ship_round()
        shipper.finish(run, truncated=False)
        costs.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
    rows.append(row("shipping a short run (3 log lines, 2 output lines): wall time", median(costs), bar="info",
                    passed=None, unit="ms"))
    rows.append(row("shipping a short run: the worker's CPU time", median(cpu), bar="info", passed=None, unit="ms"))
    details["load_average"] = os.getloadavg()

    # 2. Throughput: a log of 48 MiB (under the default cap) written while its run goes, shipped by rounds.
    size = (8 if SMOKE else 48) * 1024 * 1024
    run = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, node=node.name)
    shipper.begin(run)
    with open(log_path, "ab") as f:
        f.write(LINE * (size // len(LINE)))
    took, _ = timed(lambda: [shipper.ship_round() for _ in range(size // (8 * 1024 * 1024) + 1)] and
                    shipper.finish(run, truncated=False))
    rows.append(row("shipping throughput", size / took / 2**20, bar="info", passed=None, unit="MiB/s"))

    # 3. A 1 GiB log written at once (faster than any database): finish ships at most the task's cap.
    ExecutionLogChunk.objects.all().delete()
    rss_before = peak_rss_mib(reset=True)
    run = TaskExecution.objects.create(task=task, status=ExecutionStatus.RUNNING, node=node.name)
    shipper.begin(run)
    block = LINE * (8 * 1024 * 1024 // len(LINE))
    with open(log_path, "ab") as f:
        for _ in range(BIG_LOG // len(block)):
            f.write(block)
    took, _ = timed(shipper.finish, run, False)
    stored = ExecutionLogChunk.task_log(task.pk)
    kept = stored.size - stored.floor
    rss_growth = peak_rss_mib() - rss_before
    rows.append(row(f"a {BIG_LOG >> 20} MiB log written at once: stored", kept / 2**20,
                    f"cap {central_log_cap() >> 20}", bar="<= cap + 64 KiB",
                    passed=kept <= central_log_cap() + 65536, unit="MiB"))
    rows.append(row(f"a {BIG_LOG >> 20} MiB log written at once: shipping time", took, bar="info", passed=None,
                    unit="s"))
    details["big_log_rss_growth_mib"] = round(rss_growth, 1)

    # 4. Reading it (the cap's worth, ~60 MiB) against the same bytes in a local file.
    copy = work / "copy.log"
    with open(copy, "wb") as out, ExecutionLogChunk.task_log(task.pk) as central:
        while data := central.read(1 << 20):
            out.write(data)
    for label, reader in (
            ("tail of 500 lines", lambda src: tail(src, 500)),
            ("live-tail poll from the middle", lambda src: read_from(src, stored.floor + kept // 2)),
            ("search that matches nothing (scan-limited)", lambda src: tail(src, 100, flt=LogFilter(search="zzz"))),
    ):
        central_ms = median([timed(reader, ExecutionLogChunk.task_log(task.pk))[0] * 1000 for _ in range(5)])
        file_ms = median([timed(reader, copy)[0] * 1000 for _ in range(5)])
        rows.append(row(f"reading: {label}", central_ms, file_ms, bar="info", passed=None,
                        ratio=f"{central_ms / file_ms:.1f}x", unit="ms"))
    central = ExecutionLogChunk.task_log(task.pk)
    began = time.perf_counter()
    total = 0
    while data := central.read(64 * 1024):
        total += len(data)
    rows.append(row("download of the whole central log", total / (time.perf_counter() - began) / 2**20,
                    bar="info", passed=None, unit="MiB/s"))
    # 5. A slow log: one line a round, so one small chunk a line (20,000 of them).
    ExecutionLogChunk.objects.all().delete()
    for start in range(0, 20_000, 2_000):
        ExecutionLogChunk.append_log(task.pk, run.pk, [LINE] * 2_000, start)
    tail_ms = median([timed(tail, ExecutionLogChunk.task_log(task.pk), 500)[0] * 1000 for _ in range(5)])
    rows.append(row("reading: tail of 500 lines of a log stored a line a chunk", tail_ms, bar="info", passed=None,
                    unit="ms"))
    print_rows(rows)
    print("result:", write_result("central_logs", rows, details))
    ExecutionLogChunk.objects.all().delete()
    Task.objects.filter(pk=task.pk).delete()


if __name__ == "__main__":
    main()
