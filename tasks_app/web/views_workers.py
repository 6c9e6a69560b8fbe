"""The workers page (/workers): which scheduler leads (its lease), the Celery workers of SCHEDULER_EXECUTOR=celery,
alive or not, what they serve and run, and the queues of enabled tasks that no live worker serves (their runs
wait)."""
from django.conf import settings
from django.views.generic import TemplateView

from tasks_app.models import SchedulerLease, Worker
from tasks_app.models.worker import unserved_queues

from .access import RoleRequiredMixin

SHOWN_AT_MOST = 500  # newest first: a cluster's history of restarted workers can grow


class WorkerListView(RoleRequiredMixin, TemplateView):
    template_name = "tasks/workers.html"

    def get_context_data(self, **kwargs):
        workers = list(Worker.objects.with_running().order_by("-last_heartbeat")[:SHOWN_AT_MOST])
        on_celery = settings.SCHEDULER_EXECUTOR == "celery"
        lease = SchedulerLease.objects.current()
        return super().get_context_data(
            lease=lease if lease is not None and lease.holder else None,
            workers=workers, on_celery=on_celery, unserved=unserved_queues() if on_celery else [],
            alive=sum(1 for worker in workers if worker.state() == "alive"), lost_after=settings.WORKER_LOST_AFTER,
            **kwargs)
