"""API keys created and revoked, users' roles changed (groups and the superuser flag) and logins — succeeded,
failed and locked out by django-axes — are audit entries too."""
from django.contrib.auth.models import Group, User
from django.core.management import call_command

from tasks_app.audit import events
from tasks_app.models import ApiKey

from .conftest import entries, last, make_user


def test_api_keys_created_and_revoked_in_the_admin_and_by_the_command_are_entries(page_as, users, capsys):
    admin = page_as("admin")
    assert admin.post("/admin/tasks_app/apikey/add/", {"user": users["admin"].pk, "name": "backup"}).status_code == 302
    created = last(action=events.KEY_CREATED)
    assert (created["actor"], created["via"], created["address"]) == ("ada", "admin", "127.0.0.1")
    assert created["changes"]["name"] == [None, "backup"] and created["details"] == {"owner": "ada"}
    key = ApiKey.objects.get(name="backup")
    assert key.prefix in created["object"] and key.key_hash not in str(created)

    admin.post("/admin/tasks_app/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]})
    revoked = last(action=events.KEY_REVOKED)
    assert revoked["object_id"] == str(key.pk) and revoked["changes"]["revoked_at"][0] is None

    call_command("create_api_key", "--user", "otto", "--name", "cron")
    by_command = last(action=events.KEY_CREATED)
    assert (by_command["actor"], by_command["via"], by_command["details"]) == ("cli", "cli", {"owner": "otto"})
    plain = capsys.readouterr().out.strip().splitlines()[-1]
    assert plain not in str(entries())


def test_a_role_changed_in_the_admin_is_one_entry_with_the_groups_removed_and_added(page_as, users):
    otto = users["operator"]
    admin_group, operator_group = Group.objects.get(name="admin"), Group.objects.get(name="operator")
    superuser = make_user("root", is_superuser=True, is_staff=True)
    root = page_as("viewer")
    root.force_login(superuser)
    answer = root.post(f"/admin/auth/user/{otto.pk}/change/", {
        "username": "otto", "is_active": "on", "groups": [admin_group.pk], "date_joined_0": "2025-01-01",
        "date_joined_1": "00:00:00", "initial-date_joined_0": "2025-01-01", "initial-date_joined_1": "00:00:00",
    })
    assert answer.status_code == 302, answer.content.decode()[:3000]
    changed = last(action=events.ROLES_CHANGED)
    assert (changed["object"], changed["actor"], changed["via"]) == ("otto", "root", "admin")
    assert changed["changes"] == {"groups": {"removed": ["operator"], "added": ["admin"]}}
    assert len(entries(action=events.ROLES_CHANGED, user="root")) == 1
    assert operator_group not in otto.groups.all()


def test_the_superuser_flag_and_groups_changed_outside_a_request_are_entries_by_the_command_line(users):
    vera = users["viewer"]
    vera.is_superuser = True
    vera.save()
    flag = last(action=events.ROLES_CHANGED)
    assert flag["changes"] == {"is_superuser": [False, True]} and (flag["actor"], flag["via"]) == ("cli", "cli")
    Group.objects.get(name="admin").user_set.add(vera)
    assert last(action=events.ROLES_CHANGED)["changes"] == {"groups": {"added": ["admin"]}}
    vera.groups.clear()
    assert last(action=events.ROLES_CHANGED)["changes"] == {"groups": {"removed": ["admin", "viewer"]}}
    vera.save(update_fields=["last_login"])  # as every login does: no flag can have changed
    assert len([e for e in entries(action=events.ROLES_CHANGED) if e["object"] == "vera"]) == 3 + 1  # + the fixture


def test_a_user_created_by_createsuperuser_is_an_entry(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-password-1")
    call_command("createsuperuser", "--noinput", "--username", "boss", "--email", "boss@example.com")
    created = last(action=events.USER_CREATED)
    assert created["object"] == "boss" and created["changes"]["is_superuser"] == [None, True]


def test_logins_that_succeed_fail_and_are_locked_out_are_entries_with_the_address(client, users, settings):
    client.post("/login/", {"username": "vera", "password": "pw-vera"})
    login = last(action=events.LOGIN)
    assert (login["actor"], login["via"], login["address"]) == ("vera", "web", "127.0.0.1")
    client.post("/logout/")
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        client.post("/login/", {"username": "vera", "password": "wrong"})
    failed = entries(action=events.LOGIN_FAILED)
    assert len(failed) == settings.LOGIN_FAILURE_LIMIT - 1
    assert failed[0]["actor"] == "vera" and failed[0]["object_type"] == "user" and "wrong" not in str(failed)
    assert client.post("/login/", {"username": "vera", "password": "wrong"}).status_code == 429
    assert len(entries(action=events.LOCKED_OUT)) == 1  # the failure that locked the pair out
    assert client.post("/login/", {"username": "vera", "password": "pw-vera"}).status_code == 429
    assert len(entries(action=events.LOCKED_OUT)) == 2  # refused even with the right password
    assert len(entries(action=events.LOGIN_FAILED)) == settings.LOGIN_FAILURE_LIMIT - 1


def test_a_failed_login_with_an_unknown_name_and_an_admin_login_are_entries(client, users):
    client.post("/admin/login/?next=/admin/", {"username": "nobody-here", "password": "x"})
    failed = last(action=events.LOGIN_FAILED)
    assert (failed["object"], failed["object_id"], failed["via"]) == ("nobody-here", "", "admin")
    client.post("/admin/login/?next=/admin/", {"username": "ada", "password": "pw-ada"})
    assert (last(action=events.LOGIN)["actor"], last(action=events.LOGIN)["via"]) == ("ada", "admin")
    assert User.objects.filter(username="nobody-here").count() == 0
