"""A task's configuration (mirrored to conf/tasks.json), its runtime status (task_status.json), and the rules
every page, the API and the admin ask them: its state, its last result, when it fires next."""
import zoneinfo

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tasks_app import cron
from tasks_app.definition.fields import OverlapPolicy, default_log_path, task_id_validator

from .calendar import calendar_named
from .execution import ExecutionStatus

TASK_STATES = ("running", "idle", "disabled")
NEVER_RUN = "never"  # the last-result filter's value for a task that has not run yet


def state_of(running, enabled) -> str:
    """A task's state (one of TASK_STATES) from its status row's `running` and its `task_enabled`: Task.state,
    and the API's list, which reads these two columns without making instances, ask it."""
    if running:
        return "running"
    return "idle" if enabled else "disabled"


def zone_name(task_timezone) -> str:
    """The zone a task's schedule and times are read in: its task_timezone, or the server's (Task.timezone_name;
    the API's list asks it of its rows)."""
    return task_timezone or settings.TIME_ZONE


class TaskQuerySet(models.QuerySet):
    """The filters of the task list, the same on the pages, in the API and in the admin."""

    def in_state(self, state):
        """Tasks in `state` (one of TASK_STATES: running while an execution runs, else idle or disabled);
        empty: all."""
        if state == "running":
            return self.filter(status__running=True)
        if state in ("idle", "disabled"):
            return self.filter(task_enabled=state == "idle").exclude(status__running=True)
        return self

    def last_result(self, last):
        """Tasks whose last run ended with `last` (an ExecutionStatus value), or that never ran (NEVER_RUN);
        empty: all."""
        if last == NEVER_RUN:
            return self.filter(Q(status__isnull=True) | Q(status__last_status=""))
        if last in ExecutionStatus.values:
            return self.filter(status__last_status=last)
        return self

    def tagged(self, tag):
        """Tasks with `tag` among their task_tags; empty: all. Tags are lowercase words, so on SQLite (no JSON
        containment) the quoted tag found in the stored list is exactly that tag."""
        if not tag:
            return self
        if connection.features.supports_json_field_contains:
            return self.filter(task_tags__contains=[tag])
        return self.filter(task_tags__icontains=f'"{tag}"')

    def search(self, text):
        """Tasks with `text` in their id, name or description (case-insensitive); empty: all."""
        if not text:
            return self
        return self.filter(Q(task_id__icontains=text) | Q(task_name__icontains=text) | Q(task_desc__icontains=text))


class Task(models.Model):
    # The fields of the field table (definition/fields.py), with their names and defaults.
    task_id = models.CharField(max_length=64, unique=True, validators=[task_id_validator])
    task_name = models.CharField(max_length=200)
    task_desc = models.TextField(blank=True, default="", max_length=10_000)
    task_exec = models.CharField(max_length=500, blank=True, default="",
                                 help_text=_("Path of the script inside the tasks folder"))
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
    # Whose rights and which resource limits its runs get (the engine's identity.py and limits.py).
    task_run_as = models.CharField(max_length=65, blank=True, default="")
    task_limits = models.JSONField(default=dict, blank=True)
    # The Celery queue its runs are sent to (SCHEDULER_EXECUTOR=celery): the workers serving it run them.
    task_queue = models.CharField(max_length=64, default="default", blank=True)
    # Where its alerts go (channel names; empty: the default channels), its alert rules, and how long a run may
    # take before it is an overrun (empty: learnt from its successful runs).
    task_channels = models.JSONField(default=list, blank=True)
    task_alerts = models.JSONField(default=dict, blank=True)
    task_expected_duration = models.PositiveIntegerField(null=True, blank=True, help_text=_("Seconds"))
    # The business calendar whose excluded days its slots skip (models/calendar.py); empty: every day.
    task_calendar = models.CharField(max_length=64, blank=True, default="")
    # Whether a run may be given one-off task_env values (run now, the API's execute, a trigger URL's body).
    task_allow_overrides = models.BooleanField(default=False)
    # What a run is (tasks_app/tasktypes: python, shell, http or a plugin's) and that type's own fields.
    task_type = models.CharField(max_length=64, default="python", blank=True)
    task_options = models.JSONField(default=dict, blank=True)
    # Short words that group tasks (definition/tags.py): the list's filter, the dashboard, pauses, bulk actions.
    task_tags = models.JSONField(default=list, blank=True)
    # Whether its runs start through the fork server (engine/forkserver.py); None: SCHEDULER_FAST_START decides.
    task_fast_start = models.BooleanField(null=True, blank=True, default=None)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TaskQuerySet.as_manager()

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
        # The tag filter's count and the tag cloud read only task_tags: an index on it is scanned instead of the
        # table (on SQLite, LIKE; on PostgreSQL, @>: index-only). 4x and 1.7x faster with 50,000 tasks on SQLite.
        indexes = [models.Index(fields=["task_tags"], name="task_tags")]

    def __str__(self):
        return f"{self.task_id} ({self.task_name})"

    @property
    def log_path(self):
        """The task log as given, or the default `logs/task_{task_id}.log`."""
        return self.task_log or default_log_path(self.task_id)

    @property
    def timezone_name(self):
        return zone_name(self.task_timezone)

    def calendar_rule(self):
        """The task's calendar (models/calendar.py), or None: no calendar, or one that no longer exists."""
        return calendar_named(self.task_calendar)

    # The fields next_fire_times() reads: an edit that leaves them as they are leaves the stored next run as it is.
    NEXT_RUN_FIELDS = frozenset({"task_enabled", "task_schedule", "task_timezone", "task_calendar"})

    def next_fire_times(self, count=5, after=None, until=None) -> list:
        """The next `count` times the schedule fires after `after` (default: now) on the days its calendar runs,
        as aware UTC datetimes; none for a disabled task, a chain task, or a schedule or zone stored before the
        loader refused it. With `until`, none later (and the calendar's excluded days are walked up to it).
        OverflowError when `after` is too far in the future."""
        if not self.task_enabled or not self.task_schedule:
            return []
        after = after or timezone.now()
        try:
            rule = self.calendar_rule()
            if rule is not None:
                return rule.fire_times(self.task_schedule, self.timezone_name, after, count, until=until)
            return cron.next_fire_times(self.task_schedule, self.timezone_name, after, count)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError):  # CronError is a ValueError
            return []

    def next_run_time(self, after=None):
        """When the scheduler next starts the task on its own (aware UTC), or None."""
        times = self.next_fire_times(1, after)
        return times[0] if times else None

    def store_next_run(self):
        """Keep next_run_time() in the task's status row, so a list of thousands of tasks needs no cron."""
        status, _created = TaskStatus.objects.get_or_create(task=self)
        status.next_run_time = self.next_run_time()
        status.save(update_fields=["next_run_time", "updated_at"])

    @property
    def current_status(self):
        """The task's TaskStatus row, or None before the scheduler or a service has written one (no query when
        the row came with select_related)."""
        try:
            return self.status
        except TaskStatus.DoesNotExist:
            return None

    @property
    def state(self):
        """running while an execution runs, else idle or disabled."""
        status = self.current_status
        return state_of(status is not None and status.running, self.task_enabled)


class TaskStatus(models.Model):
    """A task's runtime state (what export writes to task_status.json), never part of its configuration."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, primary_key=True, related_name="status")
    running = models.BooleanField(default=False)
    last_execution = models.ForeignKey(
        "tasks_app.TaskExecution", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_status = models.CharField(max_length=10, blank=True, default="")
    last_start_time = models.DateTimeField(null=True, blank=True)
    last_end_time = models.DateTimeField(null=True, blank=True)
    # Task.next_run_time() kept here, so that listing thousands of tasks needs no cron computation per row.
    # Written when the task is saved (Task.store_next_run) and by the engine after each fire; APScheduler keeps
    # its own copy in its job store to find due jobs (docs/architecture.md says why both).
    next_run_time = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "task statuses"

    def __str__(self):
        return f"{self.task_id}: {'running' if self.running else self.last_status or 'idle'}"
