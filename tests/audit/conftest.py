"""Fixtures of the audit tests: users of each role with a logged-in page client and an API client with a named
key, tasks made through the services, and the entries read back as the pages and the API show them."""
import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from tasks_app.audit import trail
from tasks_app.models import ApiKey
from tests.web.conftest import EXAMPLE, example, form_data  # noqa: F401  (re-exported for the tests)

WEBHOOK = "https://hooks.example.com/services/T000/B000/s3cr3t-t0ken"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(name, role=None, **extra):
    user = User.objects.create_user(name, password="pw-" + name, **extra)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def users(db):
    return {role: make_user(name, role) for role, name in
            (("viewer", "vera"), ("operator", "otto"), ("admin", "ada"))}


@pytest.fixture
def page_as(client, users):
    def login(role):
        client.force_login(users[role])
        return client
    return login


@pytest.fixture
def api_as(users):
    def make(role, key_name="deploy script"):
        plain = ApiKey.issue(users[role], name=key_name)[1]
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
        return api
    return make


@pytest.fixture
def make_task(db):
    from tasks_app.services.tasks import create_task

    def make(task_id="audited", **changes):
        return create_task(example(task_id=task_id, task_log=f"logs/task_{task_id}.log", **changes),
                           actor="fixture", via="cli")
    return make


def entries(**filters):
    """The entries (as the pages and the API show them), newest first."""
    return [trail.present(entry) for entry in trail.filter_entries(trail.entries(), **filters)]


def last(**filters):
    found = entries(**filters)
    assert found, f"no audit entry with {filters}"
    return found[0]
