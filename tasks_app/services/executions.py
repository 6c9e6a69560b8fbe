"""Use cases about runs: run now and stop. Web processes never run scripts: they queue an execution
(or flag one to stop) in the database and the scheduler process acts on it.

STUB: the engine engineer implements this module.
"""


def run_now(task, *, actor: str, door: str):
    """Queue a manual execution of `task`; returns the TaskExecution (status queued)."""
    raise NotImplementedError


def stop_task(task, *, actor: str, door: str):
    """Ask the scheduler to stop the task's running execution(s) and cancel pending retries.
    Returns the executions asked to stop; raises NothingRunning if there is none."""
    raise NotImplementedError


class NothingRunning(Exception):
    pass
