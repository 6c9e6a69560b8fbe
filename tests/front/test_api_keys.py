"""API keys: an admin-role user creates and revokes only their own keys, a superuser anyone's; keys may expire
(create_api_key --expires, the admin) and an expired key is refused like an unknown one; a user's keys stop
working when the user is deactivated or changes their password."""
import io
import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tasks_app.models import ApiKey
from tasks_app.services import apikeys
from tests.api.conftest import make_user

pytestmark = pytest.mark.django_db

KEYS = reverse("admin:tasks_app_apikey_changelist")
ADD_KEY = reverse("admin:tasks_app_apikey_add")


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def api_status(plain):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    response = client.get("/api/tasks")
    return response.status_code, response.json().get("detail")


@pytest.fixture
def ada():
    return make_user("ada", "admin")


@pytest.fixture
def bob():
    return make_user("bob", "operator")


@pytest.fixture
def root():
    return make_user("root", superuser=True)


def test_an_admin_role_user_may_not_create_a_key_for_someone_else_in_the_admin(ada, bob):
    client = logged_in(ada)
    form = client.get(ADD_KEY).context["adminform"].form
    assert list(form.fields["user"].queryset) == [ada]

    response = client.post(ADD_KEY, {"user": bob.pk, "name": "sneaky"})
    assert response.status_code == 200  # the form again, with the error
    assert "Select a valid choice" in str(response.context["adminform"].form.errors["user"])
    assert not ApiKey.objects.exists()

    page = client.post(ADD_KEY, {"user": ada.pk, "name": "mine"}, follow=True).content.decode()
    assert re.search(r"The new API key is tsk_", page)
    assert ApiKey.objects.get().user == ada


def test_a_superuser_creates_keys_for_others_in_the_admin(root, bob):
    page = logged_in(root).post(ADD_KEY, {"user": bob.pk, "name": "for bob"}, follow=True).content.decode()
    [plain] = re.findall(r"The new API key is (tsk_[A-Za-z0-9_-]+)", page)
    assert ApiKey.objects.get().user == bob
    assert api_status(plain)[0] == 200


def test_an_admin_role_user_sees_and_revokes_only_their_own_keys(ada, bob):
    mine, _ = ApiKey.issue(ada, "mine")
    theirs, theirs_plain = ApiKey.issue(bob, "theirs")
    client = logged_in(ada)

    listed = client.get(KEYS).context["cl"].result_list
    assert list(listed) == [mine]
    client.post(KEYS, {"action": "revoke_keys", "_selected_action": [mine.pk, theirs.pk]}, follow=True)
    mine.refresh_from_db(), theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    assert client.get(reverse("admin:tasks_app_apikey_change", args=[theirs.pk])).status_code == 302  # not found
    assert api_status(theirs_plain)[0] == 200


def test_a_superuser_revokes_anyones_key_in_the_admin(root, bob):
    theirs, plain = ApiKey.issue(bob, "theirs")
    response = logged_in(root).post(KEYS, {"action": "revoke_keys", "_selected_action": [theirs.pk]}, follow=True)
    assert "1 API key revoked." in response.content.decode()
    assert api_status(plain) == (401, "This API key has been revoked.")


def test_the_services_refuse_keys_of_others_to_a_non_superuser_whatever_the_way_in(ada, bob, root):
    with pytest.raises(PermissionDenied, match="ada may not create API keys for bob"):
        apikeys.issue_key(bob, actor=ada, via="admin")
    theirs, _ = ApiKey.issue(bob)
    mine, _ = ApiKey.issue(ada)
    with pytest.raises(PermissionDenied, match="ada may not revoke API keys of bob"):
        apikeys.revoke_keys([mine, theirs], actor=ada, via="admin")
    assert not ApiKey.objects.filter(revoked_at__isnull=False).exists()  # all or nothing
    assert apikeys.revoke_keys([theirs], actor=root, via="admin") == [theirs]


@pytest.mark.parametrize("lifetime, expected", [("90d", timedelta(days=90)), ("12h", timedelta(hours=12)),
                                                ("30m", timedelta(minutes=30)), ("2w", timedelta(weeks=2))])
def test_create_api_key_sets_an_expiry_from_a_lifetime(bob, lifetime, expected):
    out = io.StringIO()
    before = timezone.now()
    call_command("create_api_key", "--user", "bob", "--expires", lifetime, stdout=out)
    key = ApiKey.objects.get()
    assert before + expected <= key.expires_at <= timezone.now() + expected
    assert "expires" in out.getvalue().splitlines()[0]


@pytest.mark.parametrize("bad", ["5y", "0d", "soon", "-3d", "90"])
def test_create_api_key_names_a_malformed_lifetime(bob, bad):
    with pytest.raises(CommandError, match=f"--expires {re.escape(repr(bad))} is not a lifetime"):
        call_command("create_api_key", "--user", "bob", f"--expires={bad}")
    assert not ApiKey.objects.exists()


def test_a_key_without_expires_does_not_expire(bob):
    call_command("create_api_key", "--user", "bob", stdout=io.StringIO())
    assert ApiKey.objects.get().expires_at is None


def test_an_expired_key_is_refused_like_an_unknown_one(bob):
    start = timezone.now()
    key, plain = ApiKey.issue(bob, expires_at=start + timedelta(hours=12))
    with time_machine.travel(start + timedelta(hours=11, minutes=59), tick=False):
        assert api_status(plain)[0] == 200
    with time_machine.travel(start + timedelta(hours=12), tick=False):
        status, detail = api_status(plain)
    assert status == 401 and detail.startswith("This API key expired at")
    assert api_status("tsk_unknown")[0] == 401


def test_the_admin_sets_an_expiry_and_refuses_one_in_the_past(root, bob):
    client = logged_in(root)
    past = client.post(ADD_KEY, {"user": bob.pk, "name": "x", "expires_at_0": "2020-01-01", "expires_at_1": "00:00"})
    assert "has already passed" in str(past.context["adminform"].form.errors["expires_at"])
    future = (timezone.localtime() + timedelta(days=30)).replace(microsecond=0, second=0)
    client.post(ADD_KEY, {"user": bob.pk, "name": "x", "expires_at_0": future.date().isoformat(),
                          "expires_at_1": future.strftime("%H:%M")})
    assert ApiKey.objects.get().expires_at == future


def test_a_users_keys_stop_working_when_the_user_is_deactivated(bob):
    _key, plain = ApiKey.issue(bob)
    assert api_status(plain)[0] == 200
    bob.is_active = False
    bob.save()
    assert api_status(plain) == (401, "Invalid API key.")


def test_a_users_keys_stop_working_when_their_password_changes_and_new_keys_work(bob):
    _old, old_plain = ApiKey.issue(bob)
    assert api_status(old_plain)[0] == 200
    bob.set_password("a new password")
    bob.save()
    status, detail = api_status(old_plain)
    assert status == 401 and "password was changed" in detail
    _new, new_plain = ApiKey.issue(User.objects.get(pk=bob.pk))
    assert api_status(new_plain)[0] == 200
