"""How a Celery worker becomes a node of the product: bootsteps that check the configuration and start the
WorkerNode with the worker (NodeStep), hand it the consumer whose prefetch it adjusts (PrefetchStep), and the
signals of a warm shutdown (SIGTERM: the runs get their grace) and of the worker's end."""
import logging

from celery import bootsteps, signals
from django.db import connections

log = logging.getLogger("TaskExecutor")

_node = None


def current_node():
    if _node is None:
        raise RuntimeError("this process is not a worker of the product (see scheduler_site/celery.py)")
    return _node


def refuse(message: str):
    """Stop the worker before it consumes anything, with a message and no traceback."""
    log.error("The worker cannot start: %s", message)
    raise SystemExit(f"error: {message}")


class NodeStep(bootsteps.StartStopStep):
    """Starts after the pool (so that it stops before it: the shutdown grace begins while runs still go)."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, worker, **kwargs):
        from tasks_app.engine.celery_executor import CeleryConfigurationError, check_configuration
        from tasks_app.engine.confinement import ConfinementError, prepare_engine_process

        if "thread" not in worker.pool_cls.__module__:
            refuse(f"the worker must use the threads pool (-P threads, the default of scheduler_site.celery), "
                   f"not {worker.pool_cls.__module__.rsplit('.', 1)[-1]}: a run is a shepherd process a thread "
                   "waits on, and the worker's stop watcher must see every run")
        try:
            check_configuration()
            prepare_engine_process()
        except (CeleryConfigurationError, ConfinementError) as exc:
            refuse(str(exc))
        # One long-lived connection per thread, as runscheduler: close_old_connections() before each use then
        # only drops a broken one.
        for alias in connections:
            connections[alias].settings_dict["CONN_MAX_AGE"] = None

    def start(self, worker):
        global _node
        from tasks_app.engine.workers.node import WorkerNode

        queues = list(worker.app.amqp.queues.consume_from or worker.app.amqp.queues)
        _node = WorkerNode(hostname=worker.hostname, queues=queues, concurrency=worker.concurrency)
        _node.start()

    def stop(self, worker):
        if _node is not None:
            _node.begin_shutdown()

    def shutdown(self, worker):
        self.stop(worker)


class PrefetchStep(bootsteps.StartStopStep):
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, consumer):
        if _node is not None:
            _node.consumer_ready(consumer)


@signals.worker_shutting_down.connect
def _shutting_down(sig=None, how=None, **kwargs):
    if _node is not None:
        _node.begin_shutdown()


@signals.worker_shutdown.connect
def _ended(**kwargs):
    if _node is not None:
        _node.close()
