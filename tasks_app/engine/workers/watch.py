"""StopWatcher: a worker's thread that reads the stop requests of its runs, one query per tick
(SCHEDULER_TICK, 0.5 s) for all of them, and none while it runs nothing. A stop asked on any web node thus
reaches a run on any worker within a tick plus the stop grace (SCHEDULER_STOP_KILL_GRACE): within 2 s.

Polling the database rather than a Celery broadcast: the request is already in the database (the web process
writes it, as for the local executor), so it works while the scheduler is down or restarting and while the
broker is away, and a worker that was disconnected sees a request it would have missed as a broadcast. It also
stops a run that the scheduler recorded lost while this worker could not reach the database, so a run retried
elsewhere does not go on here."""
import logging

from django.db import Error as DatabaseError
from django.db import close_old_connections

from . import runs

log = logging.getLogger("TaskExecutor")


class StopWatcher:
    def __init__(self, node):
        self.node = node

    def run(self):
        node = self.node
        while not node._done.wait(node.tick):
            self.check()

    def check(self) -> dict[int, str]:
        """One look: the runs asked to stop, and why (they are told to stop)."""
        node = self.node
        going = node.running()
        if not going:
            return {}
        try:
            close_old_connections()
            wanted = runs.stops_wanted(going, node.name)
        except DatabaseError as exc:
            node.trouble.failed("reading stop requests", exc)
            return {}
        node.trouble.ok("reading stop requests")
        for execution_id, reason in wanted.items():
            node.stop_run(execution_id, reason)
        return wanted
