"""Retention of the audit trail (AUDIT_KEEP_DAYS, by the scheduler's daily housekeeping): older entries are
deleted in small batches, except the latest version of each task that exists, so that its page still has the
configuration it runs with to compare against, and its versions go on counting from where they were."""
from datetime import timedelta

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Max
from django.utils import timezone

from tasks_app.models import Task

BATCH = 500


def prune_audit(now=None, keep_days=None) -> int:
    """Delete the entries older than `keep_days` (default AUDIT_KEEP_DAYS); returns how many went."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=keep_days or settings.AUDIT_KEEP_DAYS)
    latest_versions = (LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(Task),
                                               object_pk__in=Task.objects.values("task_id"),
                                               additional_data__has_key="version")
                       .order_by().values("object_pk").annotate(last=Max("pk")).values("last"))
    old = LogEntry.objects.filter(timestamp__lt=cutoff).exclude(pk__in=latest_versions)
    total = 0
    while True:
        batch = list(old.order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not batch:
            return total
        LogEntry.objects.filter(pk__in=batch).delete()
        total += len(batch)
