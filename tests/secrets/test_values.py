"""What any role may see of a task's secrets: public_value and redact_task, the one function the API, the pages,
the admin and the audit trail ask."""
from datetime import datetime, timezone

from cryptography.fernet import Fernet

from tasks_app.secrets.values import has_secret, is_encrypted, public_value, redact_task, shown_url, token_time

KEY = Fernet(Fernet.generate_key())
MADE = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


def token(text):
    return KEY.encrypt_at_time(text.encode(), int(MADE.timestamp())).decode()


def test_a_secret_env_value_shows_only_that_it_is_set_and_when_it_changed():
    env = {"PLAIN": "visible", "DB_PASSWORD": {"encrypted": token("hunter2")}}
    assert public_value("task_env", env) == {
        "PLAIN": "visible", "DB_PASSWORD": {"secret": True, "changed_at": "2025-03-04T05:06:07Z"}}


def test_a_webhook_shows_its_scheme_and_host_only():
    notify = {"on_failure": True, "webhook": {"encrypted": token("https://hooks.example.com/T0/B1/xyz"),
                                              "shown": "https://hooks.example.com/..."}}
    assert public_value("task_notify", notify) == {"on_failure": True, "webhook": "https://hooks.example.com/..."}
    # A row from before webhooks were encrypted is still shown cut down.
    assert public_value("task_notify", {"webhook": "https://u:p@h.example.com/a?t=1"}) == {
        "webhook": "https://h.example.com/..."}


def test_redact_task_leaves_other_fields_and_the_input_unchanged():
    task = {"task_id": "t", "task_desc": "x", "task_env": {"S": {"encrypted": token("v")}}}
    shown = redact_task(task)
    assert shown["task_id"] == "t" and shown["task_desc"] == "x"
    assert shown["task_env"]["S"]["secret"] is True
    assert is_encrypted(task["task_env"]["S"])


def test_token_time_reads_the_clear_header_without_the_key_and_refuses_what_is_not_a_token():
    assert token_time(token("v")) == MADE
    assert token_time("not a token") is None
    assert token_time("") is None


def test_has_secret_says_which_stored_values_hold_one():
    assert has_secret("task_env", {"A": "1", "B": {"encrypted": token("x")}})
    assert not has_secret("task_env", {"A": "1"})
    assert has_secret("task_notify", {"webhook": {"encrypted": token("https://a.example")}})
    assert not has_secret("task_desc", "x")


def test_shown_url_keeps_no_path_query_or_user():
    assert shown_url("https://u:p@h.example.com:8443/p?q=1") == "https://h.example.com:8443/..."
    assert shown_url("http://h.example.com") == "http://h.example.com"
