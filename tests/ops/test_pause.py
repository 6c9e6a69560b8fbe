"""The pause switch: pausing every task or one tag with an end time and a reason, resuming, the audit entries, the
scheduler recording paused slots as skipped (and not catching up after), the banner on every page, and the API."""
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from auditlog.models import LogEntry
from django.utils import timezone

from tasks_app.engine.policy import pause_covering
from tasks_app.models import ExecutionStatus, Pause, Task, TaskExecution, TaskStatus
from tasks_app.services import pauses
from tests.engine.conftest import engine_scripts, start_engine, wait_for  # noqa: F401

UTC = dt_timezone.utc


def events():
    return [e.additional_data["event"] for e in LogEntry.objects.order_by("pk")]


# ---- the rule and the service ------------------------------------------------------------------------------------

def test_a_pause_of_one_tag_covers_only_the_tasks_with_that_tag_and_a_pause_of_everything_covers_all():
    billing = Pause(tag="billing", started_by="otto")
    everything = Pause(tag="", started_by="otto", reason="upgrade")
    assert pause_covering(["billing", "nightly"], [billing]) is billing
    assert pause_covering(["nightly"], [billing]) is None
    assert pause_covering([], [billing, everything]) is everything
    assert everything.reason_text() == "paused (every task) by otto: upgrade"


@pytest.fixture
def billing(db):
    """A task with the tag billing: a tag is paused only when some task carries it."""
    return Task.objects.create(task_id="billing-sync", task_name="billing-sync", task_exec="ok.py",
                               task_tags=["billing", "nightly"])


@pytest.mark.django_db
def test_pausing_and_resuming_are_audited_and_an_ended_pause_is_not_active(billing):
    until = timezone.now() + timedelta(hours=2)
    made = pauses.pause(tag="Billing", until=until, reason="db maintenance", actor="otto", via="api")
    assert made.tag == "billing" and list(Pause.objects.active()) == [made]
    assert "until" in made.reason_text() and "db maintenance" in made.reason_text()
    pauses.resume(made.pk, actor="otto", via="web")
    assert not Pause.objects.active().exists()
    assert events() == ["pause.started", "pause.ended"]
    with pytest.raises(pauses.PauseError, match="is not on"):
        pauses.resume(made.pk, actor="otto", via="web")


@pytest.mark.django_db
def test_a_pause_ends_by_itself_at_its_end_time(time_machine):
    made = pauses.pause(until=timezone.now() + timedelta(minutes=5), actor="otto", via="api")
    time_machine.move_to(timezone.now() + timedelta(minutes=6))
    assert not Pause.objects.active().exists()
    again = pauses.pause(actor="otto", via="api")  # the scope can be paused again
    assert list(Pause.objects.active()) == [again]
    made.refresh_from_db()
    assert made.ended_at == made.until


@pytest.mark.django_db
@pytest.mark.parametrize("kwargs, field, says", [
    ({"tag": "no way"}, "tag", "is not a tag"),
    ({"until": datetime(2020, 1, 1, tzinfo=UTC)}, "until", "must be a moment in the future"),
    ({"reason": "x" * 501}, "reason", "at most 500 characters"),
])
def test_a_bad_pause_is_refused_naming_the_field(kwargs, field, says):
    with pytest.raises(pauses.PauseError) as caught:
        pauses.pause(actor="otto", via="api", **kwargs)
    assert caught.value.field == field and says in caught.value.message


@pytest.mark.django_db
def test_pausing_a_tag_no_task_carries_is_refused_naming_the_field_and_the_value(billing):
    with pytest.raises(pauses.PauseError) as caught:
        pauses.pause(tag="biling", actor="otto", via="api")
    assert caught.value.field == "tag"
    assert caught.value.message.startswith("No task has the tag biling: pausing it would hold back nothing.")
    assert not Pause.objects.exists() and not LogEntry.objects.exists()
    billing.task_enabled = False  # a disabled task counts: it may be enabled while the pause is on
    billing.save()
    assert pauses.pause(tag="nightly", actor="otto", via="api").tag == "nightly"


@pytest.mark.django_db
def test_pausing_what_is_paused_already_is_refused_with_a_message(billing):
    pauses.pause(tag="billing", actor="otto", via="api")
    with pytest.raises(pauses.PauseError, match="already paused"):
        pauses.pause(tag="billing", actor="otto", via="api")
    pauses.pause(actor="otto", via="api")  # everything is another scope


# ---- the scheduler -----------------------------------------------------------------------------------------------

def engine_task(task_id, **fields):
    task = Task.objects.create(task_id=task_id, task_name=task_id, task_exec="ok.py", task_schedule="* * * * *",
                               **fields)
    TaskStatus.objects.get_or_create(task=task)
    return task


def test_while_a_tag_is_paused_its_slots_are_recorded_skipped_and_resuming_does_not_catch_up(
        start_engine, time_machine):  # noqa: F811
    minute = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    # The clock is moved before the tasks exist: tasks made earlier would have missed the slots in between, and
    # the catch-up run of the last one would still be running at the slot under test (task_overlap: skip).
    time_machine.move_to(minute - timedelta(seconds=0.6), tick=True)
    paused = engine_task("paused", task_tags=["billing"])
    free = engine_task("free")
    made = pauses.pause(tag="billing", reason="db maintenance", actor="otto", via="api")
    start_engine(tick=0.1)
    skipped = wait_for(lambda: TaskExecution.objects.filter(task=paused, scheduled_time=minute).first(), 10,
                       what="the paused slot to be recorded")
    assert skipped.status == ExecutionStatus.SKIPPED
    assert skipped.error_message == "paused (tag billing) by otto: db maintenance"
    wait_for(lambda: TaskExecution.objects.filter(task=free, scheduled_time=minute,
                                                  status=ExecutionStatus.SUCCESS).exists(), 10,
             what="the task without the tag to run")

    pauses.resume(made.pk, actor="otto", via="api")
    after = minute + timedelta(minutes=1)
    time_machine.move_to(after - timedelta(seconds=0.6), tick=True)
    wait_for(lambda: TaskExecution.objects.filter(task=paused, scheduled_time=after,
                                                  status=ExecutionStatus.SUCCESS).exists(), 10,
             what="the next slot after resuming to run")
    assert TaskExecution.objects.filter(task=paused, scheduled_time=minute).count() == 1  # no catch-up


def test_a_paused_chain_task_is_recorded_skipped_when_its_dependency_succeeds_and_runs_by_hand_still_run(
        start_engine):  # noqa: F811
    from tasks_app.services.executions import run_now

    first = engine_task("extract")
    first.task_schedule = ""
    first.save()
    chain = engine_task("load", task_dependencies=["extract"], task_tags=["etl"])
    chain.task_schedule = ""
    chain.save()
    pauses.pause(tag="etl", reason="warehouse upgrade", actor="otto", via="api")
    start_engine(tick=0.1)

    asked = run_now(first, actor="ada", via="api")  # by hand, and not tagged: runs
    wait_for(lambda: TaskExecution.objects.filter(pk=asked.pk, status=ExecutionStatus.SUCCESS).exists(), 10,
             what="the dependency to succeed")
    skipped = wait_for(lambda: TaskExecution.objects.filter(task=chain).first(), 5, what="the chain's record")
    assert skipped.status == ExecutionStatus.SKIPPED and skipped.trigger == "dependency"
    assert skipped.error_message == "paused (tag etl) by otto: warehouse upgrade"
    by_hand = run_now(chain, actor="ada", via="api")  # a person may still run a paused task
    wait_for(lambda: TaskExecution.objects.filter(pk=by_hand.pk, status=ExecutionStatus.SUCCESS).exists(), 10,
             what="the run asked for by hand")


def hooked_task(task_id, **fields):
    """A task started by its trigger URL only (no schedule), tagged billing."""
    task = Task.objects.create(task_id=task_id, task_name=task_id, task_exec="ok.py", task_tags=["billing"], **fields)
    TaskStatus.objects.get_or_create(task=task)
    return task


def call_trigger_url(task):
    from rest_framework.test import APIClient

    from tasks_app.services import hooks

    _hook, token = hooks.create_hook(task, actor="ada", via="api")
    response = APIClient().post(f"/api/hooks/{token}", format="json")
    assert response.status_code == 202, response.content
    return TaskExecution.objects.get(pk=response.json()["execution_id"])


def test_a_trigger_url_run_queued_just_before_a_pause_began_is_recorded_skipped_and_run_now_still_runs(
        start_engine):  # noqa: F811
    from tasks_app.services.executions import run_now

    task = hooked_task("webhook")
    called = call_trigger_url(task)  # queued: no scheduler has claimed it yet
    by_hand = run_now(task, actor="ada", via="api")
    pauses.pause(tag="billing", reason="db maintenance", actor="otto", via="api")
    start_engine(tick=0.1)

    skipped = wait_for(lambda: TaskExecution.objects.filter(pk=called.pk, status=ExecutionStatus.SKIPPED).first(),
                       10, what="the trigger URL's run to be recorded skipped")
    assert skipped.error_message == "paused (tag billing) by otto: db maintenance"
    assert skipped.start_time is not None and skipped.duration == 0.0 and skipped.return_code is None
    wait_for(lambda: TaskExecution.objects.filter(pk=by_hand.pk, status=ExecutionStatus.SUCCESS).exists(), 10,
             what="the run asked for by hand")


def test_a_trigger_url_run_waiting_behind_the_current_one_is_skipped_when_a_pause_begins_meanwhile(
        start_engine):  # noqa: F811
    from tasks_app.services.executions import run_now

    task = hooked_task("webhook", task_overlap="queue")
    Task.objects.filter(pk=task.pk).update(task_exec="sleep.py", task_env={"SLEEP": "1.5"})
    start_engine(tick=0.1)
    first = run_now(task, actor="ada", via="api")
    wait_for(lambda: TaskExecution.objects.filter(pk=first.pk, status=ExecutionStatus.RUNNING).exists(), 5,
             what="the first run to start")
    called = call_trigger_url(task)
    wait_for(lambda: TaskExecution.objects.filter(pk=called.pk, status=ExecutionStatus.QUEUED).exclude(
        worker="").exists(), 5, what="the trigger URL's run to wait behind the first")
    pauses.pause(reason="release", actor="otto", via="api")

    skipped = wait_for(lambda: TaskExecution.objects.filter(pk=called.pk).exclude(
        status=ExecutionStatus.QUEUED).first(), 10, what="the waiting run to be decided")
    assert skipped.status == ExecutionStatus.SKIPPED
    assert skipped.error_message == "paused (every task) by otto: release"
    assert TaskExecution.objects.get(pk=first.pk).status == ExecutionStatus.SUCCESS


# ---- pages and API -----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_every_page_shows_the_banner_with_a_resume_button_for_operators_only(as_operator, client, viewer, billing):
    pauses.pause(tag="billing", reason="db maintenance", actor="otto", via="api")
    for path in ("/", "/workers", "/channels", "/pauses"):
        html = as_operator.get(path).content.decode()
        assert 'id="pause-banner"' in html and "db maintenance" in html and "resume-button" in html, path
    client.force_login(viewer)
    html = client.get("/").content.decode()
    assert 'id="pause-banner"' in html and "resume-button" not in html


def test_markup_in_a_pause_reason_is_text_in_the_banner_of_every_page(as_operator, client, viewer):
    pauses.pause(reason='<script>alert(1)</script><img src=x onerror="alert(2)">', actor="otto", via="api")
    client.force_login(viewer)
    for page in (client, as_operator):
        for path in ("/", "/tasks", "/pauses", "/dashboard"):
            html = page.get(path).content.decode()
            assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html, path
            assert "<script>alert(1)" not in html and "<img src=x" not in html, path


@pytest.mark.django_db
def test_the_pause_form_pauses_and_names_a_bad_field(as_operator, client, viewer, operator, billing):
    response = as_operator.post("/pauses", {"tag": "", "until": "2000-01-01T00:00", "reason": "x"})
    assert response.status_code == 400 and "must be a moment in the future" in response.content.decode()
    response = as_operator.post("/pauses", {"tag": "nighty", "until": "", "reason": "upgrade"})
    assert response.status_code == 400 and "No task has the tag nighty" in response.content.decode()
    assert 'id="error_1_id_tag"' in response.content.decode()  # shown under the tag field
    response = as_operator.post("/pauses", {"tag": "nighty"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "没有任务带有标签 nighty" in response.content.decode()
    response = as_operator.post("/pauses", {"tag": "nightly", "until": "", "reason": "upgrade"})
    assert response.status_code == 302 and Pause.objects.active().get().tag == "nightly"
    client.force_login(viewer)
    assert client.post("/pauses", {"tag": "", "reason": ""}).status_code == 403
    pause = Pause.objects.get()
    assert client.post(f"/pauses/{pause.pk}/resume").status_code == 403
    client.force_login(operator)
    assert client.post(f"/pauses/{pause.pk}/resume").status_code == 302
    assert not Pause.objects.active().exists()


@pytest.mark.django_db
def test_the_api_pauses_lists_and_resumes(client_as, billing):
    operator = client_as("operator")
    unknown = operator.post("/api/pauses", {"tag": "biling"}, format="json")
    assert unknown.status_code == 400 and unknown.json() == {"tag": [
        "No task has the tag biling: pausing it would hold back nothing. Check the spelling, or tag the tasks first."]}
    created = operator.post("/api/pauses", {"tag": "billing", "until": "2999-01-01T00:00:00+08:00",
                                            "reason": "freeze"}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["tag"] == "billing" and body["active"] and body["until"].startswith("2998-12-31T16:00:00")
    listed = client_as("viewer").get("/api/pauses").json()
    assert [p["id"] for p in listed] == [body["id"]]
    again = operator.post("/api/pauses", {"tag": "billing"}, format="json")
    assert again.status_code == 400 and "already paused" in again.json()["tag"][0]
    assert client_as("viewer").post(f"/api/pauses/{body['id']}/resume").status_code == 403
    resumed = operator.post(f"/api/pauses/{body['id']}/resume")
    assert resumed.status_code == 200 and not resumed.json()["active"]
    assert operator.post(f"/api/pauses/{body['id']}/resume").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("body, field", [
    ({"until": "tomorrow"}, "until"),
    ({"until": "2001-01-01T00:00:00Z"}, "until"),
    ({"tag": 5}, "tag"),
    ({"colour": "red"}, "colour"),
])
def test_the_api_names_the_bad_field_of_a_pause(client_as, body, field):
    response = client_as("operator").post("/api/pauses", body, format="json")
    assert response.status_code == 400 and field in response.json()


@pytest.mark.django_db
def test_the_admin_lists_pauses_to_viewers_and_lets_operators_resume_them(client, viewer, operator, billing):
    made = pauses.pause(tag="billing", reason="upgrade", actor="otto", via="api")
    client.force_login(viewer)
    listing = client.get("/admin/tasks_app/pause/")
    assert listing.status_code == 200 and "upgrade" in listing.content.decode()
    refused = client.post("/admin/tasks_app/pause/", {"action": "resume", "_selected_action": [made.pk]})
    assert Pause.objects.active().exists() and refused.status_code in (200, 302, 403)
    client.force_login(operator)
    done = client.post("/admin/tasks_app/pause/", {"action": "resume", "_selected_action": [made.pk]}, follow=True)
    assert "1 pause resumed." in done.content.decode()
    assert not Pause.objects.active().exists()
    assert LogEntry.objects.filter(additional_data__event="pause.ended").get().additional_data["via"] == "admin"
