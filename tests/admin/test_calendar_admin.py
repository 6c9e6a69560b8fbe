"""The calendar admin saves through services.calendars: the same checks (named field and value) and audit entry
as the pages and the API."""
import pytest
from auditlog.models import LogEntry
from django.urls import reverse

from tasks_app.models import Calendar

pytestmark = pytest.mark.django_db
ADD = reverse("admin:tasks_app_calendar_add")


def test_a_calendar_added_in_the_admin_is_checked_and_audited(admin_client):
    bad = admin_client.post(ADD, {"name": "ops", "base": "moon", "description": "", "added_dates": '["2025-10-11"]',
                                  "removed_dates": "[]", "ranges": "[]"})
    assert bad.status_code == 200 and "moon" in bad.content.decode()
    good = admin_client.post(ADD, {"name": "ops", "base": "weekdays", "description": "", "added_dates":
                                   '["2025-10-11"]', "removed_dates": "[]",
                                   "ranges": '[{"start": "2025-12-20", "end": "2025-12-31", "label": "freeze"}]'})
    assert good.status_code == 302
    assert Calendar.objects.get(name="ops").added_dates == ["2025-10-11"]
    entry = LogEntry.objects.get(additional_data__event="calendar.created")
    assert entry.additional_data["via"] == "admin"
    assert admin_client.get(reverse("admin:tasks_app_backfill_changelist")).status_code == 200


def _calendar_used_by_a_task():
    from tasks_app.services.calendars import create_calendar
    from tasks_app.services.tasks import create_task

    calendar = create_calendar({"name": "ops", "base": "weekdays"}, actor="fixture", via="cli")
    create_task({"task_id": "report", "task_name": "Report", "task_exec": "tasks/test_task.py",
                 "task_schedule": "0 9 * * *", "task_calendar": "ops"}, actor="fixture", via="cli")
    return calendar


def test_renaming_a_calendar_a_task_names_is_refused_on_the_admin_form_not_a_500(admin_client, tasks_dir):
    calendar = _calendar_used_by_a_task()
    answer = admin_client.post(reverse("admin:tasks_app_calendar_change", args=[calendar.pk]), {
        "name": "ops2", "base": "weekdays", "description": "", "added_dates": "[]", "removed_dates": "[]",
        "ranges": "[]"})
    assert answer.status_code == 200
    assert "cannot be renamed: tasks report name it" in answer.content.decode()
    assert list(Calendar.objects.values_list("name", flat=True)) == ["ops"]


def test_deleting_a_calendar_a_task_names_is_refused_in_the_admin_without_saying_it_was_deleted(
        admin_client, tasks_dir):
    calendar = _calendar_used_by_a_task()
    page = admin_client.get(reverse("admin:tasks_app_calendar_delete", args=[calendar.pk]))
    assert "report" in page.content.decode()  # named as what keeps it
    for answer in (admin_client.post(reverse("admin:tasks_app_calendar_delete", args=[calendar.pk]), {"post": "yes"},
                                     follow=True),
                   admin_client.post(reverse("admin:tasks_app_calendar_changelist"), {
                       "action": "delete_selected", "_selected_action": [calendar.pk], "post": "yes"}, follow=True)):
        assert "deleted successfully" not in answer.content.decode()
    assert list(Calendar.objects.values_list("name", flat=True)) == ["ops"]
    assert not LogEntry.objects.filter(additional_data__event="calendar.deleted").exists()


def test_json_nested_past_the_recursion_limit_is_named_on_the_admin_form_not_a_500(admin_client):
    answer = admin_client.post(ADD, {"name": "ops", "base": "weekdays", "description": "",
                                     "added_dates": "[" * 100_000 + "]" * 100_000, "removed_dates": "[]",
                                     "ranges": "[]"})
    assert answer.status_code == 200 and "Enter a valid JSON" in answer.content.decode()
    assert not Calendar.objects.exists()
