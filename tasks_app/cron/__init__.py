"""Cron read the way cronie reads it, the only reader of cron in the product: validation, a description in words,
fire times, and counting them without listing them. Times go in as aware datetimes in any zone and come out as
aware UTC."""

from .counting import count_fire_times, last_fire_times
from .expression import CronError, validate_expression
from .fires import Preview, _zone, fire_times_between, next_fire_after, next_fire_times, preview
from .words import describe

__all__ = ["CronError", "validate_expression", "describe", "next_fire_times", "next_fire_after", "fire_times_between",
           "count_fire_times", "last_fire_times", "preview", "Preview"]
