"""The audit trail keeps AUDIT_KEEP_DAYS (default 365) days: the daily housekeeping deletes older entries, but
never the latest version of a task that exists."""
from datetime import timedelta

from auditlog.models import LogEntry
from django.utils import timezone

from tasks_app.audit import versions
from tasks_app.audit.retention import prune_audit
from tasks_app.engine.housekeeping import prune_history
from tasks_app.services import tasks as services


def age(days):
    LogEntry.objects.update(timestamp=timezone.now() - timedelta(days=days))


def test_entries_older_than_the_setting_go_but_each_tasks_latest_version_stays(make_task, settings):
    assert settings.AUDIT_KEEP_DAYS == 365
    kept = make_task("kept")
    services.update_task(kept, {"task_retry": 1}, actor="otto", via="web", partial=True)
    gone = make_task("gone")
    services.delete_task(gone, actor="ada", via="web")
    age(400)
    make_task("recent")
    assert prune_audit() == 3  # kept's version 1, gone's version 1 and deletion
    assert [versions.number_of(e) for e in versions.version_entries("kept")] == [2]
    assert not versions.task_entries("gone").exists() and versions.latest_number("recent") == 1
    services.update_task(kept, {"task_retry": 2}, actor="otto", via="web", partial=True)
    assert versions.latest_number("kept") == 3  # numbering goes on


def test_the_daily_housekeeping_prunes_the_audit_trail_by_the_setting(make_task, settings):
    settings.AUDIT_KEEP_DAYS = 10
    task = make_task("short")
    services.set_enabled(task, False, actor="otto", via="web")
    age(11)
    assert prune_history()["audit_entries"] == 1
    assert versions.latest_number("short") == 2
