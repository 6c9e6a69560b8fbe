"""A single-row marker that every configuration write bumps, so the scheduler notices changes cheaply."""
from django.db import models
from django.db.models import F

from .wakeup import wake_scheduler


class ConfigVersion(models.Model):
    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    @classmethod
    def bump(cls):
        # update() skips signals and auto_now, so set changed_at explicitly.
        from django.utils import timezone

        if not cls.objects.filter(pk=1).update(version=F("version") + 1, changed_at=timezone.now()):
            cls.objects.get_or_create(pk=1, defaults={"version": 1})
        wake_scheduler("config")

    @classmethod
    def current(cls):
        return cls.objects.filter(pk=1).values_list("version", flat=True).first() or 0
