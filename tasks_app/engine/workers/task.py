"""The one Celery task of the product: run execution N. Its message holds the execution id and nothing else; the
worker reads the task, its environment and its secrets from the database (workers/node.py)."""
from celery.worker import state

from scheduler_site.celery import app

from ..celery_executor import TASK_NAME
from . import steps


class _Unreserved:
    """A task run outside a worker's consumer (called directly): no message to acknowledge."""

    def acknowledge(self):
        pass

    def reject(self, requeue=False):
        pass


@app.task(name=TASK_NAME, bind=True, acks_late=True, ignore_result=True)
def run_execution(self, execution_id):
    # With the threads pool the worker's request for this message lives in this process: the node acknowledges
    # it once the run is claimed, instead of when the run ends (acks_late would then be too late).
    request = state.requests.get(self.request.id) or _Unreserved()
    return steps.current_node().run(int(execution_id), request)
