"""One run of a task: queued, running, then finished with a status, times and a return code."""
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


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
    pid = models.IntegerField(null=True, blank=True)
    output_truncated = models.BooleanField(default=False)
    # How the run was confined: the user its script ran as, its resource limits and what enforced them
    # ({"mechanism": "cgroup-v1", "memory": 268435456, ...}), and how many processes it left behind that
    # were killed when it ended. Empty for a run that never started (and runs older than these fields);
    # database defaults, so rows written by raw SQL (imports, benchmarks) need not name them.
    run_as = models.CharField(max_length=64, blank=True, default="", db_default="")
    limits = models.JSONField(null=True, blank=True)
    leftover_processes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-execution_id"]
        indexes = [
            models.Index(fields=["task", "-execution_id"], name="execution_task_newest"),
            models.Index(fields=["status"], name="execution_status"),
            # History filtered by time (?since= / ?until=) without walking every run of the task.
            models.Index(fields=["task", "start_time"], name="execution_task_start"),
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

    @property
    def is_active(self):
        return self.status in ExecutionStatus.active()

    @property
    def output_path(self):
        """Captured stdout and stderr live in a file, not in the database."""
        from django.conf import settings

        return settings.EXECUTION_OUTPUT_DIR / str(self.task_id) / f"{self.execution_id}.out"
