"""The APScheduler trigger for task schedules: fire times come only from tasks_app.cron (standard cron,
the task's zone, DST as that module defines it). APScheduler's own CronTrigger is never used for tasks."""
from datetime import datetime

from apscheduler.triggers.base import BaseTrigger

from tasks_app import cron


class CronSlotTrigger(BaseTrigger):
    """Holds (expression, zone name) and nothing else, so the pickled job in the Django job store stays
    small and a job stored by an older release still loads."""

    __slots__ = ("expression", "timezone_name")

    def __init__(self, expression: str, timezone_name: str):
        self.expression = cron.validate_expression(expression)
        self.timezone_name = timezone_name

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # After a fire APScheduler asks for the slot following that fire (so it can list every missed slot);
        # a new job asks for the first slot strictly after now.
        after = previous_fire_time if previous_fire_time is not None else now
        return cron.next_fire_after(self.expression, self.timezone_name, after)

    def same_schedule(self, expression: str, timezone_name: str) -> bool:
        return self.expression == expression and self.timezone_name == timezone_name

    def __getstate__(self):
        return {"version": 1, "expression": self.expression, "timezone": self.timezone_name}

    def __setstate__(self, state):
        if state.get("version", 1) > 1:
            raise ValueError(f"Got serialized CronSlotTrigger version {state['version']}; this release reads 1")
        self.expression = state["expression"]
        self.timezone_name = state["timezone"]

    def __eq__(self, other):
        return isinstance(other, CronSlotTrigger) and self.same_schedule(other.expression, other.timezone_name)

    def __hash__(self):
        return hash((self.expression, self.timezone_name))

    def __str__(self):
        return f"cron[{self.expression}] in {self.timezone_name}"

    def __repr__(self):
        return f"<CronSlotTrigger ({self.expression!r}, timezone={self.timezone_name!r})>"
