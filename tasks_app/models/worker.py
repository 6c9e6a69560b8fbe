"""A Celery worker process (SCHEDULER_EXECUTOR=celery) as the product sees it: where it runs, what it serves, and
its heartbeat, which says whether it is alive. Heartbeats are written, and judged by the scheduler (alive()), with
the database's clock, so machines whose clocks disagree still agree on which worker is dead; state() is for the
pages and uses the web server's."""
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Now
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .execution import ExecutionStatus, TaskExecution
from .task import Task

HEARTBEAT_EVERY = 5.0  # seconds between a worker's heartbeats

ALIVE, LOST, STOPPED = "alive", "lost", "stopped"
STATE_LABELS = {ALIVE: _("alive"), LOST: _("lost"), STOPPED: _("stopped")}


def lost_after() -> timedelta:
    return timedelta(seconds=settings.WORKER_LOST_AFTER)


class WorkerQuerySet(models.QuerySet):
    def alive(self):
        """Workers running now: not stopped, heartbeat newer than WORKER_LOST_AFTER (by the database's clock)."""
        return self.filter(stopped_at__isnull=True, last_heartbeat__gte=Now() - lost_after())

    def not_alive(self):
        return self.filter(Q(stopped_at__isnull=False) | Q(last_heartbeat__lt=Now() - lost_after()))

    def with_running(self):
        """Each worker with `running`: how many runs it has going now."""
        going = (TaskExecution.objects.filter(status=ExecutionStatus.RUNNING, node=OuterRef("name")).order_by()
                 .values("node").annotate(n=Count("pk")).values("n"))
        return self.annotate(running=Coalesce(Subquery(going), 0))


def unserved_queues() -> list[str]:
    """The queues (task_queue) of enabled tasks that no live worker serves: their runs wait until one does."""
    used = set(Task.objects.filter(task_enabled=True).values_list("task_queue", flat=True).distinct())
    served = {queue for queues in Worker.objects.alive().values_list("queues", flat=True) for queue in queues or ()}
    return sorted(used - served)


class Worker(models.Model):
    # "<Celery hostname>:<pid>": one record per worker process, so a worker restarted under the same hostname
    # is a new one, and the runs of the old one are found lost. TaskExecution.node holds it.
    name = models.CharField(max_length=200, unique=True)
    hostname = models.CharField(max_length=200, help_text=_("Celery's --hostname"))
    host = models.CharField(max_length=255, help_text=_("The machine"))
    pid = models.PositiveIntegerField()
    queues = models.JSONField(default=list)
    concurrency = models.PositiveIntegerField(help_text=_("Runs at once"))
    version = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField()
    last_heartbeat = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    objects = WorkerQuerySet.as_manager()

    class Meta:
        ordering = ["hostname", "-started_at"]
        indexes = [models.Index(fields=["last_heartbeat"], name="worker_heartbeat")]

    def __str__(self):
        return self.name

    def state(self, now=None) -> str:
        """alive, lost (no heartbeat for WORKER_LOST_AFTER) or stopped (it shut down)."""
        if self.stopped_at is not None:
            return STOPPED
        now = now or timezone.now()
        return ALIVE if now - self.last_heartbeat <= lost_after() else LOST

    def state_label(self):
        return STATE_LABELS[self.state()]
