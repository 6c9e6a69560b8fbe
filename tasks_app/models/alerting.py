"""What alerting keeps: each notice sent or to be sent (Notice: one per message and destination, with its
attempts, shown on the run's page), the incidents of what did not happen (Incident: a missed slot, an overrun, a
scheduler that is down; at most one open per kind and subject, which is what makes two processes that notice the
same thing alert once), and each task's alert state (failures in a row, the quiet period)."""
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AlertEvent(models.TextChoices):
    FAILURE = "failure", _("failure")
    RECOVERY = "recovery", _("recovery")
    SUCCESS = "success", _("success")
    MISSED = "missed", _("missed run")
    OVERRUN = "overrun", _("overrun")
    SCHEDULER_DOWN = "scheduler_down", _("scheduler down")
    CALENDAR_DATA = "calendar_data", _("calendar without data")
    TEST = "test", _("test message")


class NoticeStatus(models.TextChoices):
    PENDING = "pending", _("pending")  # waiting for its first attempt, or for the next one after a failure
    SENDING = "sending", _("sending")  # claimed by a sender
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed")  # no attempt is left, or retrying cannot help


class Notice(models.Model):
    """One message to one destination: a channel (by name) or a notifier of TASK_NOTIFIERS (e-mail, webhook...)."""

    task = models.ForeignKey("tasks_app.Task", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="notices")
    execution = models.ForeignKey("tasks_app.TaskExecution", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="notices")
    incident = models.ForeignKey("tasks_app.Incident", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="notices")
    event = models.CharField(max_length=20, choices=AlertEvent.choices)
    channel = models.CharField(max_length=100)  # a channel's name, or a notifier's class name
    target = models.CharField(max_length=200, blank=True, default="")  # scheme and host only
    title = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField(blank=True, default="")  # masked when made
    status = models.CharField(max_length=10, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")  # masked; never a URL, only scheme and host
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notice_due")]

    def __str__(self):
        return f"{self.event} -> {self.channel}: {self.status}"


class IncidentKind(models.TextChoices):
    MISSED = "missed", _("missed run")
    OVERRUN = "overrun", _("overrun")
    SCHEDULER_DOWN = "scheduler_down", _("scheduler down")
    # A business calendar without data for a year, key "<calendar>:<year>": runs fall back to Monday to Friday.
    CALENDAR_DATA = "calendar_data", _("calendar without data")


class Incident(models.Model):
    """Something that should have happened and did not. `key` names its subject (a task id, an execution id,
    "scheduler"); while it is open (resolved_at empty) no second one with that kind and key can be inserted."""

    kind = models.CharField(max_length=20, choices=IncidentKind.choices)
    key = models.CharField(max_length=100)
    task = models.ForeignKey("tasks_app.Task", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="incidents")
    execution = models.ForeignKey("tasks_app.TaskExecution", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="incidents")
    slot = models.DateTimeField(null=True, blank=True)  # the first slot missed; the scheduler's last heartbeat
    detail = models.TextField(blank=True, default="")
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Added to /metrics' count of incidents (models/tally.py), which the deletion of old runs does not lower.
    tallied = models.BooleanField(default=False, db_default=False)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "key"], condition=Q(resolved_at__isnull=True),
                                               name="one_open_incident")]
        indexes = [models.Index(fields=["task", "resolved_at"], name="incident_task_open"),
                   models.Index(fields=["id"], condition=Q(tallied=False), name="incident_untallied")]

    def __str__(self):
        return f"{self.kind} {self.key}{'' if self.resolved_at else ' (open)'}"

    @classmethod
    def open_kinds_by_task(cls, task_pks) -> dict:
        """{task pk: sorted kinds of its open incidents}: the task list's badges, in one query."""
        found = {}
        for task_pk, kind in cls.objects.filter(task_id__in=list(task_pks), resolved_at__isnull=True).values_list(
                "task_id", "kind"):
            found.setdefault(task_pk, set()).add(kind)
        return {pk: sorted(kinds) for pk, kinds in found.items()}


class TaskAlertState(models.Model):
    """A task's alert rules' memory: its last outcome, failures in a row since when, and the quiet period."""

    task = models.OneToOneField("tasks_app.Task", on_delete=models.CASCADE, primary_key=True,
                                related_name="alert_state")
    last_outcome = models.CharField(max_length=10, blank=True, default="")  # "success" or "failure"
    failures_in_row = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    alerted = models.BooleanField(default=False)  # a failure alert of this streak went out or was held back
    last_alert_at = models.DateTimeField(null=True, blank=True)
    held = models.PositiveIntegerField(default=0)  # failure alerts held back by the quiet period since then
    # The last run counted (an end is counted once, even if its alerts are worked out again).
    last_execution_id = models.BigIntegerField(null=True, blank=True)
