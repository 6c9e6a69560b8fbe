"""Benchmark harness: a throwaway project state (own folders, own SQLite file), tasks in bulk, the real
`runscheduler` process, /proc readings, percentiles, and one JSON result file per benchmark."""
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
# Tests point this elsewhere; the migrated-database cache stays in bench/results/.cache either way.
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR") or BENCH_DIR / "results")
CACHE_DIR = BENCH_DIR / "results" / ".cache"
SCRIPTS_DIR = BENCH_DIR / "scripts"
# An absolute interpreter path: the same one the engine passes to its children.
PYTHON = sys.executable
SMOKE = "--smoke" in sys.argv
CLK_TCK = os.sysconf("SC_CLK_TCK")


def utc_now():
    return datetime.now(timezone.utc)


def ns_to_dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc)


def dt_to_ns(moment: datetime) -> int:
    return int(round(moment.timestamp() * 1e6)) * 1000


# ---------------------------------------------------------------- statistics

def percentile(values, p):
    """Linear interpolation between closest ranks (numpy's default)."""
    data = sorted(values)
    if not data:
        return None
    k = (len(data) - 1) * p / 100
    low = int(k)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (k - low)


def median(values):
    return percentile(values, 50)


# ---------------------------------------------------------------- processes

def proc_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def proc_cpu_seconds(pid: int) -> float:
    """CPU time of the process (all its threads, not its children), in ns resolution from schedstat;
    utime + stime (10 ms ticks) where schedstat is missing. Threads that already exited are not counted
    by schedstat, so take the larger of the two."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = (int(fields[11]) + int(fields[12])) / CLK_TCK
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass  # a thread that ended meanwhile
    except FileNotFoundError:
        return ticks
    return max(total / 1e9, ticks) if total else ticks


def thread_cpu_ns(pid: int) -> dict[str, int]:
    """Each live thread's CPU time (schedstat, ns) by thread id."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found[task.name] = int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return found


def machine_busy_seconds() -> float:
    """CPU seconds every process of the machine has spent (all cores, /proc/stat: all but idle and iowait): what a
    window's runs cost in all, the engine's, the shepherds', the scripts' and the kernel's work together."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_between(before: dict[str, int], after: dict[str, int]) -> float:
    """The CPU that thread_cpu_ns() snapshots say was spent between them, thread by thread: exact for a window in
    which no thread ends (an idle process). proc_cpu_seconds() can jump by its 10 ms ticks there."""
    return sum(ns - before.get(tid, 0) for tid, ns in after.items()) / 1e9


def wait_until(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def next_slot(min_lead: float) -> datetime:
    """The first whole UTC minute at least `min_lead` seconds from now."""
    now = utc_now()
    slot = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while (slot - now).total_seconds() < min_lead:
        slot += timedelta(minutes=1)
    return slot


def cron_at(slot: datetime) -> str:
    """A cron expression (read in UTC) that fires at `slot` and then not again for a year."""
    return f"{slot.minute} {slot.hour} {slot.day} {slot.month} *"


def yearly_fields(i: int) -> tuple[int, int, int, int]:
    """(minute, hour, day, month) of the i-th idle task: once a year, spread over the day, in a month
    at least two months from now, so none falls due while a benchmark runs."""
    month = (utc_now().month + 5 + i % 3) % 12 + 1
    return i % 60, (i // 60) % 24, 1 + (i // 1440) % 28, month


def yearly_cron(i: int) -> str:
    minute, hour, day, month = yearly_fields(i)
    return f"{minute} {hour} {day} {month} *"


def sleep_until(moment: datetime):
    delay = (moment - utc_now()).total_seconds()
    if delay > 0:
        time.sleep(delay)


# ---------------------------------------------------------------- the throwaway project state

def migrations_fingerprint() -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "tasks_app" / "migrations").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


class Workspace:
    """Its own TASKS_DIR, CONF_DIR, LOGS_DIR and SQLite database, the environment that points at them,
    and the benchmark scripts copied into its tasks folder."""

    def __init__(self, name: str, *, workers: int | None = None, extra_env: dict | None = None):
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        self.tasks_dir = self.dir / "tasks"
        self.conf_dir = self.dir / "conf"
        self.logs_dir = self.dir / "logs"
        self.stamp_dir = self.dir / "stamps"
        for folder in (self.tasks_dir, self.conf_dir, self.logs_dir, self.stamp_dir):
            folder.mkdir()
        for script in SCRIPTS_DIR.glob("*.py"):
            shutil.copy(script, self.tasks_dir / script.name)
        self.db_path = self.dir / "db.sqlite3"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "scheduler_site.settings",
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "TASKS_DIR": str(self.tasks_dir),
            "CONF_DIR": str(self.conf_dir),
            "LOGS_DIR": str(self.logs_dir),
            "TIME_ZONE": "UTC",
            "DJANGO_SECRET_KEY": "bench-" + "x" * 40,
            "DJANGO_DEBUG": "false",
            "LOG_LEVEL": "INFO",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if workers:
            self.env["SCHEDULER_MAX_WORKERS"] = str(workers)
        self.env.update(extra_env or {})
        self.django_ready = False

    # -- database

    def migrate(self):
        """Migrate once per migration set and copy the migrated file: `migrate` takes seconds each time."""
        cache = CACHE_DIR / f"migrated-{migrations_fingerprint()}.sqlite3"
        if not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp_db = cache.with_suffix(f".{os.getpid()}.tmp")
            env = {**self.env, "DATABASE_URL": f"sqlite:///{tmp_db}"}
            subprocess.run(
                [PYTHON, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True
            )
            con = sqlite3.connect(tmp_db)
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            con.execute("PRAGMA journal_mode=DELETE")
            con.close()
            os.replace(tmp_db, cache)
        shutil.copy(cache, self.db_path)
        return self

    def setup_django(self):
        """Point this process's Django at the workspace (settings read the environment at import)."""
        if not self.django_ready:
            os.environ.update(self.env)
            sys.path.insert(0, str(ROOT))
            import django

            django.setup()
            self.django_ready = True
        return self

    def add_tasks(self, count: int, *, script="noop.py", schedule="0 0 1 1 *", prefix="t", start=0, **fields):
        """Create `count` tasks (and their status rows) in bulk; returns their task_ids."""
        self.setup_django()
        from django.db import transaction

        from tasks_app.models import ConfigVersion, Task, TaskStatus

        env = {"BENCH_STAMP_DIR": str(self.stamp_dir)}
        ids = [f"{prefix}{i:05d}" for i in range(start, start + count)]
        with transaction.atomic():
            objs = [
                Task(
                    task_id=task_id,
                    task_name=f"bench {task_id}",
                    task_exec=script,
                    task_schedule=schedule(i) if callable(schedule) else schedule,
                    task_env=env,
                    task_log=f"logs/task_{task_id}.log",  # the document's form; it follows LOGS_DIR
                    **fields,
                )
                for i, task_id in enumerate(ids)
            ]
            # SQLite >= 3.35 and PostgreSQL return the new primary keys from bulk_create.
            Task.objects.bulk_create(objs, batch_size=500)
            TaskStatus.objects.bulk_create([TaskStatus(task=obj) for obj in objs], batch_size=500)
        ConfigVersion.bump()
        return ids

    # -- the scheduler process

    def start_scheduler(self, *, instrumented=False, count_commits=False, extra_env=None):
        return SchedulerProcess(self, instrumented=instrumented, count_commits=count_commits, extra_env=extra_env)

    # -- results

    def stamps(self) -> list[dict]:
        """One dict per script run: ns (first instruction, CLOCK_REALTIME), task_id, execution_id."""
        found = []
        for path in self.stamp_dir.iterdir():
            parts = path.read_text().split()
            if parts:
                found.append({
                    "ns": int(parts[0]),
                    "task_id": parts[1] if len(parts) > 1 else "",
                    "execution_id": parts[2] if len(parts) > 2 else "",
                })
        return found

    def executions(self) -> list[dict]:
        self.setup_django()
        from tasks_app.models import TaskExecution

        return list(
            TaskExecution.objects.values(
                "execution_id", "task__task_id", "status", "trigger", "scheduled_time", "queued_at", "start_time",
                "end_time", "return_code", "duration", "error_message", "limits",
            )
        )

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# What runscheduler logs once every task is scheduled (tasks_app/engine/scheduler.py).
READY_PATTERNS = [re.compile(r"Scheduler engine started in")]


class SchedulerProcess:
    """`manage.py runscheduler` in its own process, with the workspace's environment; its console output
    goes to logs/scheduler.out. `instrumented` runs it through bench/instrumented_scheduler.py (log times in
    ms), `count_commits` also counts its SQLite write transactions."""

    def __init__(self, ws: Workspace, *, instrumented=False, count_commits=False, extra_env=None):
        self.ws = ws
        self.out_path = ws.logs_dir / "scheduler.out"
        self.counters_path = ws.dir / "counters.json"
        env = {**ws.env, **(extra_env or {})}
        if count_commits:
            env["BENCH_COUNTERS_FILE"] = str(self.counters_path)
        if instrumented or count_commits:
            cmd = [PYTHON, str(BENCH_DIR / "instrumented_scheduler.py")]
        else:
            cmd = [PYTHON, str(ROOT / "manage.py"), "runscheduler"]
        self.started_at = time.monotonic()
        self.started_wall = utc_now()
        # A workspace may run several schedulers one after the other: read only this one's output.
        self._offset = self.out_path.stat().st_size if self.out_path.exists() else 0
        self._out = open(self.out_path, "ab")
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=self._out, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def output(self) -> str:
        with open(self.out_path, "rb") as f:
            f.seek(self._offset)
            return f.read().decode(errors="replace")

    def wait_ready(self, timeout=60.0) -> float:
        """Seconds from process start until the scheduler said it is ready (every job scheduled)."""

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"runscheduler exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            text = self.output()
            return any(p.search(text) for p in READY_PATTERNS)

        wait_until(ready, timeout, what="runscheduler to be ready")
        return time.monotonic() - self.started_at

    def log_times(self, pattern: str) -> dict[str, datetime]:
        """{first group of `pattern`: UTC time of the line} from an instrumented scheduler's output."""
        found = {}
        regex = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) - \w+ - \w+ - " + pattern, re.M)
        for m in regex.finditer(self.output()):
            found.setdefault(m.group(2), datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(
                tzinfo=timezone.utc))
        return found

    def log_lines(self, pattern: str) -> list[tuple[datetime, re.Match]]:
        """[(UTC time of the line, its match of `pattern`)] from an instrumented scheduler's output."""
        regex = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) - \w+ - \w+ - " + pattern, re.M)
        return [(datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc), m)
                for m in regex.finditer(self.output())]

    def rss_kb(self) -> int:
        return proc_rss_kb(self.pid)

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def thread_cpu(self) -> dict[str, int]:
        return thread_cpu_ns(self.pid)

    def counters(self) -> dict:
        try:
            return json.loads(self.counters_path.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def stop(self, timeout=30.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---------------------------------------------------------------- results

def sql_time(moment: datetime) -> str:
    """An aware UTC time as Django stores it in SQLite."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _stored_default(field):
    """A field's default as SQLite stores it: JSON as text, booleans as 0/1, no default as NULL."""
    if not field.has_default():
        return None
    value = field.get_default()
    if field.get_internal_type() == "JSONField":
        return json.dumps(value)
    return int(value) if isinstance(value, bool) else value


def insert_finished_runs(db_path: Path, runs):
    """Bulk insert finished runs with raw SQL (the ORM would take minutes). `runs` yields dicts of the columns a
    benchmark cares about (task_id, status, times, duration...); the bookkeeping columns get a bench's values and
    every other column its field's default, so fields added later need no change here."""
    from tasks_app.models import TaskExecution

    fields = TaskExecution._meta.concrete_fields
    columns = [f.column for f in fields]
    base = {f.column: _stored_default(f) for f in fields}
    base.update(execution_id=None, trigger="schedule", attempt=1, requested_by="scheduler", worker="bench",
                node="bench", pid=1000, run_as="bench", limits=None)
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    marks = ",".join("?" * len(columns))
    with con:
        con.executemany(f"INSERT INTO tasks_app_taskexecution ({','.join(columns)}) VALUES ({marks})",
                        (tuple({**base, **run}[c] for c in columns) for run in runs))
    return con


def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
    }


def row(measurement, engine, baseline=None, *, bar, passed, ratio=None, unit=""):
    """One line of the table. `engine`/`baseline` are numbers (in `unit`) or text; `passed` is True,
    False, or None when the figure could not be measured."""

    def fmt(value):
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.3g} {unit}".strip() if abs(value) < 1000 else f"{value:,.0f} {unit}".strip()
        if isinstance(value, int):
            return f"{value:,} {unit}".strip()
        return str(value)

    if ratio is None and isinstance(engine, (int, float)) and isinstance(baseline, (int, float)) and baseline:
        ratio = engine / baseline
    return {
        "measurement": measurement,
        "engine": fmt(engine),
        "baseline": fmt(baseline),
        "ratio": f"{ratio:.2f}x" if isinstance(ratio, (int, float)) else "-",
        "bar": bar,
        "result": {True: "PASS", False: "FAIL", None: "n/a"}[passed],
        "engine_value": engine if isinstance(engine, (int, float)) else None,
        "baseline_value": baseline if isinstance(baseline, (int, float)) else None,
    }


def write_result(name: str, rows: list[dict], details: dict | None = None) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}{'.smoke' if SMOKE else ''}.json"
    payload = {
        "name": name,
        "when": utc_now().isoformat(timespec="seconds"),
        "smoke": SMOKE,
        "run": os.environ.get("BENCH_RUN", ""),  # set by run_all.py: which results come from one `make bench`
        "load_average": os.getloadavg(),
        "machine": machine(),
        "rows": rows,
        "details": details or {},
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def print_rows(rows):
    for r in rows:
        print(f"  {r['measurement']}: {r['engine']} (baseline {r['baseline']}, {r['ratio']}) bar {r['bar']}"
              f" -> {r['result']}")
