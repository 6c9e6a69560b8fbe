"""The Celery app of SCHEDULER_EXECUTOR=celery. `celery -A scheduler_site worker -Q <queues> -c <n> --hostname <name>`
(or `manage.py runworker`) is a worker: it runs the executions the scheduler sends to its queues with the same
runner as the local executor (tasks_app/engine/workers/). Configured from Django's settings (CELERY_BROKER_URL);
the choices below are the product's, not settings, because the exactly-once design depends on them."""
import os

from celery import Celery

from tasks_app.private_files import use_private_umask

use_private_umask()  # a worker started by `celery -A scheduler_site` creates private files, as manage.py does
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

app = Celery("scheduler_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # The message carries an execution id and nothing else; the worker reads the task from the database,
    # so no secret ever travels through the broker.
    task_serializer="json",
    accept_content=["json"],
    # Each worker thread reserves one message at a time: a long run never holds back a short one that
    # another worker could start now (Celery's fair dispatch). Late ack keeps a message unacknowledged until
    # the worker has claimed its run in the database; the worker then acknowledges it at once
    # (workers/node.py), so a broker's visibility timeout (Redis) or consumer timeout (RabbitMQ) never
    # delivers a long run again. A message delivered twice anyway finds its run claimed and does nothing.
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    # Threads, not processes: a run is a shepherd process that a thread waits on (as in the local executor),
    # the thread that claimed a run can acknowledge its message (the request lives in this process), and the
    # worker's stop watcher and heartbeat see every run of the worker.
    worker_pool="threads",
    # The worker writes each run's end in the database itself; nobody reads Celery results.
    task_ignore_result=True,
    result_backend=None,
    # Keep the product's logging (sys.log, the escaping formatter).
    worker_hijack_root_logger=False,
    worker_redirect_stdouts=False,
    # A broker that is down when a worker or the scheduler starts is waited for, as when it goes away later.
    broker_connection_retry_on_startup=True,
    # Runs were acknowledged when they started: a lost broker connection does not concern them.
    worker_cancel_long_running_tasks_on_connection_loss=False,
    task_default_queue="default",
    include=["tasks_app.engine.workers.task"],
)
app.steps["worker"].add("tasks_app.engine.workers.steps:NodeStep")
app.steps["consumer"].add("tasks_app.engine.workers.steps:PrefetchStep")
