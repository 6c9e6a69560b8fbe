"""The execution admin is read-only; the API key admin shows a new key once and stores only its hash."""
import hashlib
import re
from datetime import datetime, timezone

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tasks_app.models import ApiKey, ExecutionStatus, TaskExecution

pytestmark = pytest.mark.django_db

KEYS = reverse("admin:tasks_app_apikey_changelist")
ADD_KEY = reverse("admin:tasks_app_apikey_add")
RUNS = reverse("admin:tasks_app_taskexecution_changelist")


# ---- API keys -------------------------------------------------------------------------------------------------


def test_adding_an_api_key_shows_it_once_and_stores_only_its_hash(admin_client, admin_user):
    bob = get_user_model().objects.create_user("bob")
    response = admin_client.post(ADD_KEY, {"user": bob.pk, "name": "backup script"}, follow=True)
    page = response.content.decode()
    [key] = re.findall(r"The new API key is (tsk_[A-Za-z0-9_-]+)", page)
    stored = ApiKey.objects.get()
    assert (stored.user, stored.name, stored.prefix) == (bob, "backup script", key[:12])
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert all(key not in str(value) for value in ApiKey.objects.values().get().values())
    # The key is not shown again: not on the list, not on the key's own page.
    assert key not in admin_client.get(KEYS).content.decode()
    assert key not in admin_client.get(reverse("admin:tasks_app_apikey_change", args=[stored.pk])).content.decode()


def test_the_api_key_list_shows_prefix_owner_name_and_dates(admin_client, admin_user):
    ApiKey.issue(admin_user, "deploy")
    page = admin_client.get(KEYS).content.decode()
    for header in ("Prefix", "User", "Name", "Created at", "Last used at", "Revoked at", "Active"):
        assert header in page
    assert "deploy" in page and ApiKey.objects.get().prefix in page


def test_an_api_key_is_revoked_by_the_action_and_cannot_be_edited_beyond_its_label(admin_client, admin_user):
    key, _plain = ApiKey.issue(admin_user, "old")
    response = admin_client.post(KEYS, {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True)
    assert "1 API key revoked." in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None and not key.is_active
    page = admin_client.get(reverse("admin:tasks_app_apikey_change", args=[key.pk])).content.decode()
    assert 'name="name"' in page and 'name="user"' not in page and 'name="key_hash"' not in page


# ---- executions -------------------------------------------------------------------------------------------------


@pytest.fixture
def execution(make_task):
    task = make_task("report")
    return TaskExecution.objects.create(task=task, status=ExecutionStatus.FAILED, trigger="manual", return_code=2,
                                        error_message="exit code 2", requested_by="alice")


def test_the_execution_admin_is_read_only(admin_client, execution):
    change = reverse("admin:tasks_app_taskexecution_change", args=[execution.pk])
    assert admin_client.get(reverse("admin:tasks_app_taskexecution_add")).status_code == 403
    page = admin_client.get(change).content.decode()
    assert "exit code 2" in page and 'name="_save"' not in page and 'name="status"' not in page
    assert admin_client.post(change, {"status": "success"}).status_code == 403
    assert admin_client.post(reverse("admin:tasks_app_taskexecution_delete", args=[execution.pk]),
                             {"post": "yes"}).status_code == 403
    execution.refresh_from_db()
    assert execution.status == "failed"
    assert "delete_selected" not in admin_client.get(RUNS).content.decode()


def test_the_execution_list_filters_by_status_trigger_and_task_and_searches_task_ids(admin_client, execution,
                                                                                     make_task):
    other = make_task("cleanup")
    TaskExecution.objects.create(task=other, status=ExecutionStatus.SUCCESS, trigger="schedule",
                                 start_time=datetime(2024, 3, 1, 10, 0, tzinfo=timezone.utc))

    def ids(query):
        return {e.task.task_id for e in admin_client.get(RUNS, query).context["cl"].result_list}

    assert ids({}) == {"report", "cleanup"}
    assert ids({"status__exact": "failed"}) == {"report"}
    assert ids({"trigger__exact": "schedule"}) == {"cleanup"}
    assert ids({"task__id__exact": str(other.pk)}) == {"cleanup"}
    assert ids({"q": "clean"}) == {"cleanup"}
    assert ids({"start_time__year": "2024", "start_time__month": "3"}) == {"cleanup"}
    page = admin_client.get(RUNS).content.decode()
    assert reverse("admin:tasks_app_task_change", args=[other.pk]) in page
