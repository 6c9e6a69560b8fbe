"""manage.py rotate_secrets_key: every stored secret (database, conf/tasks.json, backups) sealed anew under a new
key, the old key readable until --retire, and then no longer able to open anything; with the key in the
environment it says what to set."""
import io
import json

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command

from tasks_app.models import Task
from tasks_app.secrets import keys
from tasks_app.secrets.values import token_time
from tasks_app.services.tasks import update_task
from tests.secrets.helpers import conf_texts

pytestmark = pytest.mark.django_db
PASSWORD = "rotate-me-passw0rd"


@pytest.fixture
def sealed_task(tasks_dir, django_capture_on_commit_callbacks, minimal):
    from tasks_app.services.tasks import create_task

    with django_capture_on_commit_callbacks(execute=True):
        task = create_task(minimal("rot", task_env={"DB_PASSWORD": {"secret": PASSWORD}, "PLAIN": "p"}),
                           actor="t", via="cli")
    with django_capture_on_commit_callbacks(execute=True):  # a backup holding the token too
        update_task(task, {"task_name": "renamed"}, actor="t", via="cli", partial=True)
    return Task.objects.get(task_id="rot")


def tokens_in(text):
    return set(__import__("re").findall(r"gAAAA[A-Za-z0-9_=-]+", text))


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_secrets_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_rotation_seals_everything_anew_and_retire_leaves_the_old_key_unable_to_read(sealed_task, settings):
    old_key = keys.current_keys()[0]
    before = {name: tokens_in(text) for name, text in conf_texts().items()}
    old_token = sealed_task.task_env["DB_PASSWORD"]["encrypted"]
    assert len(before) >= 2 and all(before.values())
    out, _ = run()
    assert "A new key was added" in out
    new_key, kept = keys.current_keys()
    assert kept == old_key
    task = Task.objects.get(task_id="rot")
    token = task.task_env["DB_PASSWORD"]["encrypted"]
    assert token != old_token and task.task_env["PLAIN"] == "p"
    assert Fernet(new_key.encode()).decrypt(token.encode()).decode() == PASSWORD
    for name, text in conf_texts().items():
        assert tokens_in(text).isdisjoint(before.get(name, set())), name
        assert all(keys.sealed_by_newest({"encrypted": t}) for t in tokens_in(text)), name
    # changed_at stays the time the secret was set, not the time it was sealed anew
    assert token_time(token) == token_time(old_token)
    out, _ = run("--retire")
    assert "Retired 1 older key(s)" in out
    assert keys.current_keys() == [new_key]
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(Task.objects.get(task_id="rot").task_env["DB_PASSWORD"]["encrypted"].encode())
    assert keys.open_secret(Task.objects.get(task_id="rot").task_env["DB_PASSWORD"]) == PASSWORD
    for text in conf_texts().values():
        for token in tokens_in(text):
            assert keys.open_token(token) in (PASSWORD,)


def test_with_one_key_in_the_environment_it_says_what_to_set_and_changes_nothing(sealed_task, settings):
    settings.SECRETS_KEYS = [keys.generate_key()]
    task = Task.objects.get(task_id="rot")
    out, _ = run()
    assert "set SCHEDULER_SECRETS_KEY=" in out and ",<the current key>" in out
    assert Task.objects.get(task_id="rot").task_env == task.task_env


def test_with_a_new_key_first_in_the_environment_it_seals_under_it_and_retire_says_what_to_keep(sealed_task,
                                                                                                 settings):
    old = keys.current_keys()[0]
    new = keys.generate_key()
    settings.SECRETS_KEYS = [new, old]
    out, _ = run()
    assert "Everything is sealed under the first of the 2 keys" in out
    token = Task.objects.get(task_id="rot").task_env["DB_PASSWORD"]["encrypted"]
    assert Fernet(new.encode()).decrypt(token.encode()).decode() == PASSWORD
    out, _ = run("--retire")
    assert "set SCHEDULER_SECRETS_KEY to that key alone" in out and new not in out and old not in out


def test_a_secret_no_key_opens_is_reported_by_place_and_left_alone(sealed_task, settings):
    foreign = Fernet(Fernet.generate_key()).encrypt(b"lost").decode()
    Task.objects.filter(task_id="rot").update(task_env={"LOST": {"encrypted": foreign}})
    _, err = run()
    assert "task rot: 1 secret(s) no key opens" in err
    assert Task.objects.get(task_id="rot").task_env == {"LOST": {"encrypted": foreign}}


def test_generate_prints_a_usable_key(settings):
    out, _ = run("--generate")
    Fernet(out.strip().encode())
    assert json.dumps(out)


def test_the_audit_trails_versions_are_sealed_anew_so_an_old_version_restores_after_retire(sealed_task, settings,
                                                                                            django_capture_on_commit_callbacks):
    from tasks_app.audit import versions
    from tasks_app.services.versions import restore_version

    first = versions.version_entry("rot", 1).serialized_data["task_env"]["DB_PASSWORD"]["encrypted"]
    run()
    run("--retire")
    snapshot = versions.version_entry("rot", 1).serialized_data["task_env"]["DB_PASSWORD"]
    assert snapshot["encrypted"] != first and keys.sealed_by_newest(snapshot)
    assert keys.open_secret(snapshot) == PASSWORD
    with django_capture_on_commit_callbacks(execute=True):
        restore_version(Task.objects.get(task_id="rot"), 1, actor="t", via="cli")
    task = Task.objects.get(task_id="rot")
    assert task.task_name == "Task rot" and keys.open_secret(task.task_env["DB_PASSWORD"]) == PASSWORD
