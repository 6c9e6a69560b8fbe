"""One run of a task: queued, running, then finished with a status, times and a return code; its captured
output is a file (or chunks in the database for a run on a Celery worker), read here for the pages, the API and
the notifications."""
import os

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tasks_app.secrets import keys


class ExecutionStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCESS = "success", _("Success")
    FAILED = "failed", _("Failed")
    TIMEOUT = "timeout", _("Timed out")
    STOPPED = "stopped", _("Stopped")
    SKIPPED = "skipped", _("Skipped")
    LOST = "lost", _("Lost")

    @classmethod
    def finished(cls):
        return [cls.SUCCESS, cls.FAILED, cls.TIMEOUT, cls.STOPPED, cls.SKIPPED, cls.LOST]

    @classmethod
    def active(cls):
        return [cls.QUEUED, cls.RUNNING]


class Trigger(models.TextChoices):
    SCHEDULE = "schedule", _("Schedule")
    MANUAL = "manual", _("Manual")
    RETRY = "retry", _("Retry")
    DEPENDENCY = "dependency", _("Dependency")
    BACKFILL = "backfill", _("Backfill")
    HOOK = "hook", _("Trigger URL")


class TaskExecution(models.Model):
    execution_id = models.BigAutoField(primary_key=True)
    task = models.ForeignKey("tasks_app.Task", on_delete=models.CASCADE, related_name="executions")
    status = models.CharField(max_length=10, choices=ExecutionStatus.choices, default=ExecutionStatus.QUEUED)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    # The cron slot a scheduled run belongs to; with the constraint below a slot never runs twice.
    scheduled_time = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    queued_at = models.DateTimeField(auto_now_add=True)
    # For a retry: not before this instant.
    not_before = models.DateTimeField(null=True, blank=True)
    start_time = models.DateTimeField(null=True, blank=True)
    end_time = models.DateTimeField(null=True, blank=True)
    return_code = models.IntegerField(null=True, blank=True)
    error_message = models.TextField(blank=True, default="")
    duration = models.FloatField(null=True, blank=True, help_text=_("Seconds"))
    # Who asked for the run (user name, "scheduler", ...).
    requested_by = models.CharField(max_length=150, blank=True, default="")
    # Set by a web process; the scheduler stops the run and records who asked.
    stop_requested_by = models.CharField(max_length=150, blank=True, default="")
    # The scheduler instance that claimed the run and the process it started, for stop and crash recovery.
    worker = models.CharField(max_length=100, blank=True, default="")
    # The node that runs it: the scheduler itself (local executor), or the Celery worker that claimed it
    # (Worker.name); empty while a run sent to a queue waits for a worker.
    node = models.CharField(max_length=200, blank=True, default="", db_default="")
    pid = models.IntegerField(null=True, blank=True)
    output_truncated = models.BooleanField(default=False)
    # How the run was confined: the user its script ran as, its resource limits and what enforced them
    # ({"mechanism": "cgroup-v1", "memory": 268435456, ...}), and how many processes it left behind that
    # were killed when it ended. Empty for a run that never started (and runs older than these fields);
    # database defaults, so rows written by raw SQL (imports, benchmarks) need not name them.
    run_as = models.CharField(max_length=64, blank=True, default="", db_default="")
    limits = models.JSONField(null=True, blank=True)
    leftover_processes = models.PositiveIntegerField(null=True, blank=True)
    # What the engine wants said about a run that went ahead (a calendar without data for the year).
    note = models.TextField(blank=True, default="", db_default="")
    # The backfill (run for a date range) this run is one slot of; its scheduled_time is that slot.
    backfill = models.ForeignKey("tasks_app.Backfill", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="executions")
    # One-off task_env values given when the run was asked for (task_allow_overrides): plain values as given,
    # a value that overrides a secret sealed like one ({"encrypted": token}). None: the task's own task_env.
    env_overrides = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-execution_id"]
        indexes = [
            models.Index(fields=["task", "-execution_id"], name="execution_task_newest"),
            models.Index(fields=["status"], name="execution_status"),
            # History filtered by time (?since= / ?until=) without walking every run of the task.
            models.Index(fields=["task", "start_time"], name="execution_task_start"),
            # The dashboard's fleet-wide figures over a time window (runs by status, the slowest, the flakiest)
            # read this index alone, never the rows.
            models.Index(fields=["start_time", "status", "task", "duration"], name="execution_window"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "scheduled_time"],
                condition=Q(trigger="schedule") & Q(scheduled_time__isnull=False),
                name="one_execution_per_cron_slot",
            ),
            models.CheckConstraint(condition=Q(attempt__gte=1), name="execution_attempt_positive"),
        ]

    def __str__(self):
        return f"{self.task_id}#{self.execution_id} {self.status}"

    def scheduled_for(self):
        """The moment a run stands for (its TASK_SCHEDULED_TIME): a scheduled or backfill run's slot, a manual
        run's (or a trigger URL's) request time; aware UTC, None for a chain run."""
        if self.scheduled_time is not None:
            return self.scheduled_time
        return self.queued_at if self.trigger in (Trigger.MANUAL, Trigger.HOOK) else None

    def limits_summary(self) -> str:
        """The run's limits for people: "memory 2 GiB, processes 512, open files 1024 (cgroup-v1)"."""
        return describe_limits(self.limits)

    @property
    def is_active(self):
        return self.status in ExecutionStatus.active()

    @property
    def output_path(self):
        """Captured stdout and stderr live in a file, not in the database."""
        return settings.EXECUTION_OUTPUT_DIR / str(self.task_id) / f"{self.execution_id}.out"

    def run_env(self) -> dict:
        """The stored task_env this run uses: the task's, with the run's one-off values over it."""
        return {**(self.task.task_env or {}), **(self.env_overrides or {})}

    def masker(self):
        """Masks the task's secrets and the run's secret overrides: the output is masked as it is written, and
        again as it is read (a secret set after the run, a run from before secrets were masked)."""
        if not self.env_overrides:
            return keys.masker_for(self.task.task_env)
        return keys.masker_for({**{f"task:{k}": v for k, v in (self.task.task_env or {}).items()},
                                **self.env_overrides})

    def open_output(self):
        """The captured output as an open binary file: what the run's worker shipped to the database when it ran
        on a Celery worker (central logs, models/logchunk.py), else the local file. FileNotFoundError if none."""
        from .logchunk import ExecutionLogChunk

        shipped = ExecutionLogChunk.run_output(self.pk)
        if shipped is not None:
            return shipped
        try:
            return open(self.output_path, "rb")
        except IsADirectoryError:
            raise FileNotFoundError(self.output_path) from None

    def read_output(self, tail_lines: int | None = None) -> str:
        """The captured output ('' if none), or only its last `tail_lines` lines; secrets masked."""
        try:
            with self.open_output() as f:
                data = f.read() if tail_lines is None else _last_lines(f, tail_lines)
        except FileNotFoundError:
            return ""
        return self.masker().text(data.decode("utf-8", errors="replace"), cut=self.is_active)

    def output_tail(self, *, lines: int | None = None, max_bytes: int | None = None) -> tuple[str, bool]:
        """(text, cut): the end of the captured output as a page or the API shows it, at most `lines` lines or
        `max_bytes` bytes, and whether older output was left out."""
        if lines is not None:
            text = self.read_output(tail_lines=lines + 1)
            kept = text.splitlines()
            if len(kept) > lines:
                return "\n".join(kept[-lines:]), True
            return text, False
        if max_bytes is None:
            return self.read_output(), False
        try:
            with self.open_output() as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - max_bytes))
                data = f.read(max_bytes)
        except FileNotFoundError:
            return "", False
        return self.masker().text(data.decode("utf-8", errors="replace"), cut=self.is_active), size > max_bytes


_BLOCK = 64 * 1024


def size_text(number: int) -> str:
    """268435456 -> "256 MiB"."""
    for unit, size in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if number >= size:
            value = number / size
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{number} bytes"


LIMIT_NAMES = ("memory", "cpu", "processes", "file_size", "open_files")


def limit_text(name: str, value: int) -> str:
    if name in ("memory", "file_size"):
        return size_text(value)
    return f"{value} s" if name == "cpu" else str(value)


def describe_limits(record: dict | None) -> str:
    """An execution's `limits` record ({"mechanism": ..., "memory": bytes, ...}) for people; "" for none."""
    if not record:
        return ""
    parts = [f"{name.replace('_', ' ')} {limit_text(name, record[name])}" for name in LIMIT_NAMES if record.get(name)]
    return f"{', '.join(parts) or 'none'} ({record.get('mechanism', '?')})"


def _last_lines(f, lines: int) -> bytes:
    if lines <= 0:
        return b""
    end = f.seek(0, os.SEEK_END)
    pos, data = end, b""
    # A trailing newline ends the last line; it does not start another one.
    wanted = lines + 1 if end and _read_at(f, end - 1, 1) == b"\n" else lines
    while pos > 0 and data.count(b"\n") < wanted:
        step = min(_BLOCK, pos)
        pos -= step
        data = _read_at(f, pos, step) + data
    parts = data.split(b"\n")
    return b"\n".join(parts[-wanted:]) if len(parts) > wanted else data


def _read_at(f, pos: int, size: int) -> bytes:
    """Works for a local file and for a ChunkFile alike (whose reads below its first kept byte are empty)."""
    f.seek(pos)
    return f.read(size)
