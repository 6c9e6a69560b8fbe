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
