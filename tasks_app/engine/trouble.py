"""DatabaseTrouble: the engine's work goes on through a database that is locked, restarting or gone for a
while; each kind of work says once that it is failing and once that it works again, not on every tick."""
import logging

from django.db import connection

log = logging.getLogger("SchedulerEngine")


class DatabaseTrouble:
    def __init__(self):
        self.failing = set()  # the kinds of work ("polling", "starting runs", ...) now failing

    def failed(self, what: str, exc: Exception):
        if what not in self.failing:
            log.warning("Database trouble while %s (%s); retrying on the next tick", what, exc)
            self.failing.add(what)
        try:
            connection.close_if_unusable_or_obsolete()  # the next attempt reconnects if it must
        except Exception:
            pass

    def ok(self, what: str):
        if what in self.failing:
            self.failing.discard(what)
            log.info("Database available again for %s", what)
