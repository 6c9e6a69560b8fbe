"""The pause switch: while a pause is on, the scheduler records every slot of the tasks it covers as skipped with
its reason instead of running it (nothing silently lost), and every page shows a banner. A pause covers every task
(tag "") or the tasks with one tag; it ends when someone resumes it or at its end time, and never catches up."""
from django.db import models
from django.db.models import Q
from django.utils import timezone


class PauseQuerySet(models.QuerySet):
    def active(self, now=None):
        """The pauses on at `now` (default: now): not resumed, and their end time (if any) still ahead."""
        now = now or timezone.now()
        return self.filter(Q(until__isnull=True) | Q(until__gt=now), ended_at__isnull=True, started_at__lte=now)

    def covering(self, tags, now=None):
        """The newest pause on at `now` that holds back a task with these task_tags, or None (the engine's rule,
        policy.pause_covering, over the same newest-first list)."""
        return next((pause for pause in self.active(now) if pause.covers(tags)), None)


class Pause(models.Model):
    tag = models.CharField(max_length=32, blank=True, default="", help_text="Empty: every task")
    reason = models.CharField(max_length=500, blank=True, default="")
    until = models.DateTimeField(null=True, blank=True, help_text="Empty: until someone resumes")
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.CharField(max_length=150)
    ended_at = models.DateTimeField(null=True, blank=True)  # resumed (the end time passing leaves it empty)
    ended_by = models.CharField(max_length=150, blank=True, default="")

    objects = PauseQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            # One open pause per scope: pausing what is paused already is refused with a message, not doubled.
            models.UniqueConstraint(fields=["tag"], condition=Q(ended_at__isnull=True),
                                    name="one_open_pause_per_scope"),
        ]
        indexes = [models.Index(fields=["ended_at", "until"], name="pause_open")]

    def __str__(self):
        return f"pause of {self.scope}" + (f" until {self.until.isoformat()}" if self.until else "")

    @property
    def scope(self):
        return f"tag {self.tag}" if self.tag else "every task"

    def covers(self, tags) -> bool:
        """Whether this pause holds back a task with these task_tags."""
        return not self.tag or self.tag in (tags or ())

    def reason_text(self) -> str:
        """What each slot it skips records (in English, as the engine's other reasons)."""
        text = f"paused ({self.scope}) by {self.started_by}"
        if self.reason:
            text += f": {self.reason}"
        if self.until:
            text += f"; until {self.until.strftime('%Y-%m-%d %H:%M UTC')}"
        return text
