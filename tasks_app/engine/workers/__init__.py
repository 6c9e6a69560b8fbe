"""A Celery worker's side of SCHEDULER_EXECUTOR=celery: the node (node.py: its record and heartbeat, its runs,
its warm shutdown), the database work of a run on a worker (runs.py), the stop watcher (watch.py), the Celery
task (task.py) and the bootsteps that tie them to the worker's life (steps.py)."""
