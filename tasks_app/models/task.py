"""A task's configuration (mirrored to conf/tasks.json) and its runtime status (task_status.json)."""
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tasks_app.definition.fields import OverlapPolicy, default_log_path, task_id_validator


class Task(models.Model):
    # The document's fields, with its names and defaults.
    task_id = models.CharField(max_length=64, unique=True, validators=[task_id_validator])
    task_name = models.CharField(max_length=200)
    task_desc = models.TextField(blank=True, default="")
    task_exec = models.CharField(max_length=500, help_text=_("Path of the script inside the tasks folder"))
    # Empty only for a task that runs when its dependencies have succeeded (a chain).
    task_schedule = models.CharField(max_length=200, blank=True, default="")
    task_timeout = models.PositiveIntegerField(null=True, blank=True, help_text=_("Seconds; empty for none"))
    task_retry = models.PositiveIntegerField(default=0)
    task_retry_interval = models.PositiveIntegerField(default=60, help_text=_("Seconds"))
    task_enabled = models.BooleanField(default=True)
    task_log = models.CharField(max_length=500, blank=True, default="")
    task_env = models.JSONField(default=dict, blank=True)
    task_dependencies = models.JSONField(default=list, blank=True)
    task_notify = models.JSONField(default=dict, blank=True)
    # Additions: the zone the schedule is read in, and what to do on overlap and after downtime.
    task_timezone = models.CharField(max_length=64, blank=True, default="")
    task_overlap = models.CharField(max_length=10, choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP)
    task_misfire_grace = models.PositiveIntegerField(default=60, help_text=_("Seconds"))

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["task_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(task_timeout__isnull=True) | Q(task_timeout__gte=1), name="task_timeout_positive"
            ),
            models.CheckConstraint(condition=Q(task_retry__gte=0), name="task_retry_non_negative"),
            models.CheckConstraint(condition=Q(task_retry_interval__gte=0), name="task_retry_interval_non_negative"),
            models.CheckConstraint(condition=Q(task_misfire_grace__gte=0), name="task_misfire_grace_non_negative"),
        ]

    def __str__(self):
        return f"{self.task_id} ({self.task_name})"

    @property
    def log_path(self):
        """The task log as given, or the default `logs/task_{task_id}.log`."""
        return self.task_log or default_log_path(self.task_id)

    @property
    def timezone_name(self):
        from django.conf import settings

        return self.task_timezone or settings.TIME_ZONE


class TaskStatus(models.Model):
    """What the document keeps in conf/task_status.json: runtime state, never part of the configuration."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, primary_key=True, related_name="status")
    running = models.BooleanField(default=False)
    last_execution = models.ForeignKey(
        "tasks_app.TaskExecution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_status = models.CharField(max_length=10, blank=True, default="")
    last_start_time = models.DateTimeField(null=True, blank=True)
    last_end_time = models.DateTimeField(null=True, blank=True)
    # Stored so that listing thousands of tasks needs no cron computation per row.
    next_run_time = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "task statuses"

    def __str__(self):
        return f"{self.task_id}: {'running' if self.running else self.last_status or 'idle'}"
