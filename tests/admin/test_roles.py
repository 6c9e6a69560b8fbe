"""The admin follows the roles: viewers look, operators add, edit and run, admins also delete and manage API keys;
a user with no role is sent to the admin login; users, groups and the job store are for superusers."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from tasks_app.models import ApiKey, ExecutionStatus, Task, TaskExecution

from .conftest import form_data

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")
LOGIN = reverse("admin:login")
CHANGELIST = reverse("admin:tasks_app_task_changelist")
ADD = reverse("admin:tasks_app_task_add")
RUNS = reverse("admin:tasks_app_taskexecution_changelist")
KEYS = reverse("admin:tasks_app_apikey_changelist")
ADD_KEY = reverse("admin:tasks_app_apikey_add")
USERS = reverse("admin:auth_user_changelist")
GROUPS = reverse("admin:auth_group_changelist")
JOBS = reverse("admin:django_apscheduler_djangojob_changelist")


def change_url(task):
    return reverse("admin:tasks_app_task_change", args=[task.pk])


def delete_url(task):
    return reverse("admin:tasks_app_task_delete", args=[task.pk])


def make_user(name, role=None, **flags):
    user = get_user_model().objects.create_user(name, password="pw-" + name, **flags)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer():
    return client_for(make_user("vera", "viewer"))


@pytest.fixture
def operator():
    return client_for(make_user("otto", "operator"))


@pytest.fixture
def admin_role():
    return client_for(make_user("ada", "admin"))


def action(client, name, *tasks):
    return client.post(CHANGELIST, {"action": name, "_selected_action": [t.pk for t in tasks]}, follow=True)


def offered_actions(client):
    form = client.get(CHANGELIST).context["action_form"]
    return set() if form is None else {value for value, _label in form.fields["action"].choices if value}


def admin_models(client):
    """The models the admin index lists for this user."""
    return {model["object_name"] for app in client.get(INDEX).context["app_list"] for model in app["models"]}


# ---- getting in -------------------------------------------------------------------------------------------------


def test_a_user_with_no_role_is_sent_to_the_admin_login(tasks_dir, make_task):
    task = make_task("report")
    for user in (make_user("nobody"), make_user("staffer", is_staff=True)):  # is_staff alone is not a role
        client = client_for(user)
        for url in (INDEX, CHANGELIST, change_url(task), RUNS):
            response = client.get(url)
            assert response.status_code == 302, (user, url)
            assert response["Location"] == f"{LOGIN}?next={url}"


def test_a_user_with_no_role_cannot_log_in_through_the_admin_login_form():
    make_user("nobody")
    client = Client()
    response = client.post(LOGIN, {"username": "nobody", "password": "pw-nobody", "next": INDEX})
    assert response.status_code == 200
    assert "This account has no role" in response.content.decode()
    assert client.get(INDEX).status_code == 302


def test_an_inactive_user_with_a_role_is_refused():
    user = make_user("gone", "admin")
    user.is_active = False
    user.save()
    response = Client().post(LOGIN, {"username": "gone", "password": "pw-gone", "next": INDEX})
    assert response.status_code == 200 and "_auth_user_id" not in response.client.session


def test_a_viewer_who_is_not_staff_logs_in_through_the_admin_login_form():
    make_user("vera", "viewer")
    client = Client()
    response = client.post(LOGIN, {"username": "vera", "password": "pw-vera", "next": INDEX})
    assert response.status_code == 302 and response["Location"] == INDEX
    assert client.get(INDEX).status_code == 200


def test_each_role_sees_only_the_models_it_may_use_on_the_index(viewer, operator, admin_role, admin_client):
    # LogEntry: the audit trail, read-only for every role; Notice: the notices sent, read-only too; Backfill and Pause too (operators may resume a pause).
    shared = {"Task", "TaskExecution", "LogEntry", "Channel", "Notice", "Calendar", "Backfill", "Pause"}
    assert admin_models(viewer) == shared
    # TriggerToken: trigger URLs, for operators and up (never a token: only its hash is stored).
    assert admin_models(operator) == shared | {"TriggerToken"}
    assert admin_models(admin_role) == shared | {"ApiKey", "TriggerToken"}
    assert {"User", "Group", "DjangoJob", "Task", "ApiKey", "LogEntry"} <= admin_models(admin_client)


# ---- viewer -----------------------------------------------------------------------------------------------------


def test_a_viewer_opens_the_task_list_and_a_task_read_only(viewer, make_task):
    task = make_task("report", task_desc="weekly figures")
    listing = viewer.get(CHANGELIST)
    assert listing.status_code == 200 and "report" in listing.content.decode()
    assert ADD not in listing.content.decode()  # no "Add task" button
    page = viewer.get(change_url(task))
    assert page.status_code == 200
    html = page.content.decode()
    assert "weekly figures" in html and "Never run" in html  # the values and the status, as text
    assert 'name="task_name"' not in html and 'name="_save"' not in html and delete_url(task) not in html


def test_a_viewer_cannot_add_change_or_delete_a_task(viewer, make_task):
    task = make_task("report")
    assert viewer.get(ADD).status_code == 403
    assert viewer.post(ADD, form_data()).status_code == 403
    assert viewer.post(change_url(task), form_data(task_id=None, task_name="Renamed")).status_code == 403
    assert viewer.get(delete_url(task)).status_code == 403
    assert viewer.post(delete_url(task), {"post": "yes"}).status_code == 403
    task.refresh_from_db()
    assert task.task_name == "Task report" and Task.objects.count() == 1


def test_a_viewer_is_offered_no_action_and_a_posted_one_does_nothing(viewer, make_task):
    task = make_task("report")
    assert offered_actions(viewer) == set()
    for name in ("disable_tasks", "run_now", "delete_selected"):
        assert action(viewer, name, task).status_code == 200
    response = viewer.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [task.pk], "post": "yes"})
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.task_enabled and not TaskExecution.objects.exists() and Task.objects.count() == 1


def test_every_role_reads_the_execution_history_and_only_that(viewer, make_task):
    execution = TaskExecution.objects.create(task=make_task("report"), status=ExecutionStatus.FAILED,
                                             trigger="manual", error_message="exit code 2")
    assert viewer.get(RUNS).status_code == 200
    page = viewer.get(reverse("admin:tasks_app_taskexecution_change", args=[execution.pk]))
    assert page.status_code == 200 and "exit code 2" in page.content.decode()
    assert viewer.get(reverse("admin:tasks_app_taskexecution_add")).status_code == 403


@pytest.mark.parametrize("url", [KEYS, ADD_KEY, USERS, GROUPS, JOBS])
def test_a_viewer_is_refused_api_keys_users_groups_and_the_job_store(viewer, url):
    assert viewer.get(url).status_code == 403


def test_the_viewer_list_reads_the_role_once_per_request(viewer, make_task, django_assert_max_num_queries):
    for i in range(30):
        make_task(f"t{i}")
    with django_assert_max_num_queries(12):
        assert viewer.get(CHANGELIST).status_code == 200


# ---- operator ---------------------------------------------------------------------------------------------------


def test_an_operator_adds_and_edits_a_task(operator, tasks_dir, commit, engine_log):
    with commit():
        response = operator.post(ADD, form_data())
    assert response.status_code == 302
    task = Task.objects.get(task_id="nightly")
    assert any("Task nightly created by otto via admin" in line for line in engine_log)
    response = operator.post(change_url(task), form_data(task_id=None, task_schedule="30 3 * * *"))
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.task_schedule == "30 3 * * *"
    assert 'name="_save"' in operator.get(change_url(task)).content.decode()


def test_an_operator_runs_enables_and_disables_but_is_not_offered_delete(operator, make_task):
    task = make_task("report")
    assert offered_actions(operator) == {"enable_tasks", "disable_tasks", "run_now"}
    page = action(operator, "run_now", task).content.decode()
    execution = TaskExecution.objects.get(task=task)
    assert execution.trigger == "manual" and execution.requested_by == "otto"
    assert f"Queued to run now: report #{execution.execution_id}" in page
    assert "1 task disabled." in action(operator, "disable_tasks", task).content.decode()
    assert not Task.objects.get(pk=task.pk).task_enabled


def test_an_operator_cannot_delete_a_task(operator, make_task):
    task = make_task("report")
    assert delete_url(task) not in operator.get(change_url(task)).content.decode()
    assert operator.get(delete_url(task)).status_code == 403
    assert operator.post(delete_url(task), {"post": "yes"}).status_code == 403
    operator.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [task.pk], "post": "yes"})
    assert Task.objects.filter(pk=task.pk).exists()


@pytest.mark.parametrize("url", [KEYS, ADD_KEY, USERS])
def test_an_operator_is_refused_api_keys_and_users(operator, url):
    assert operator.get(url).status_code == 403


# ---- admin role -------------------------------------------------------------------------------------------------


def test_the_admin_role_deletes_a_task_with_its_history(admin_role, make_task, commit, engine_log):
    task = make_task("report")
    TaskExecution.objects.create(task=task, status=ExecutionStatus.SUCCESS, trigger="manual")
    assert "delete_selected" in offered_actions(admin_role)
    confirm = admin_role.get(delete_url(task))
    assert confirm.status_code == 200 and "permission to delete" not in confirm.content.decode()
    with commit():
        assert admin_role.post(delete_url(task), {"post": "yes"}).status_code == 302
    assert not Task.objects.exists() and not TaskExecution.objects.exists()
    assert any("Task report deleted by ada via admin" in line for line in engine_log)


def test_the_admin_role_deletes_tasks_with_the_bulk_action(admin_role, make_task):
    a, b = make_task("a"), make_task("b")
    response = admin_role.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [a.pk, b.pk],
                                            "post": "yes"})
    assert response.status_code == 302 and not Task.objects.exists()


def test_the_admin_role_issues_and_revokes_its_own_api_keys(admin_role):
    ada = get_user_model().objects.get(username="ada")
    page = admin_role.post(ADD_KEY, {"user": ada.pk, "name": "backup script"}, follow=True).content.decode()
    [plain] = re.findall(r"The new API key is (tsk_[A-Za-z0-9_-]+)", page)
    key = ApiKey.objects.get()
    assert key.user == ada and key.prefix == plain[:12]
    assert "revoke_keys" in {v for v, _l in admin_role.get(KEYS).context["action_form"].fields["action"].choices}
    response = admin_role.post(KEYS, {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True)
    assert "1 API key revoked." in response.content.decode()
    key.refresh_from_db()
    assert not key.is_active


@pytest.mark.parametrize("url", [USERS, GROUPS, JOBS, reverse("admin:auth_user_add")])
def test_users_groups_and_the_job_store_are_for_superusers_not_the_admin_role(admin_role, admin_client, url):
    assert admin_role.get(url).status_code == 403
    assert admin_client.get(url).status_code == 200


def test_model_permissions_given_to_a_role_group_grant_nothing(make_task):
    """The roles are the one source of truth: Django permissions on the groups are not consulted."""
    group = Group.objects.get_or_create(name="viewer")[0]
    group.permissions.add(*Permission.objects.filter(codename__in=[
        "add_task", "change_task", "delete_task", "view_apikey", "view_user", "change_user"]))
    viewer = client_for(make_user("vera", "viewer"))
    task = make_task("report")
    assert viewer.get(ADD).status_code == 403
    assert viewer.get(delete_url(task)).status_code == 403
    assert viewer.get(KEYS).status_code == 403 and viewer.get(USERS).status_code == 403
    assert offered_actions(viewer) == set()
