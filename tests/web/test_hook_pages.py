"""The task page's trigger URLs: operators create one (shown once on the answer page), see the list and revoke;
viewers see no section and cannot create or revoke; bad input is named."""
import pytest
from rest_framework.test import APIClient

from tasks_app.models import TaskExecution, TriggerToken
from tasks_app.services import hooks as hook_services


def token_in(html) -> str:
    return html.split('id="hook-url" value="', 1)[1].split('"', 1)[0].rsplit("/", 1)[1]


def test_an_operator_creates_a_trigger_url_shown_once_that_starts_the_task(as_operator, task):
    response = as_operator.post("/tasks/test-task/hooks/new", {"name": "from CI", "expires_in": "90d"})
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    html = response.content.decode()
    token = token_in(html)
    assert token.startswith("hk_") and f"curl -X POST http://testserver/api/hooks/{token}" in html

    page = as_operator.get("/tasks/test-task/view").content.decode()
    section = page.split('id="trigger-urls"', 1)[1].split("</section>", 1)[0]
    assert "from CI" in section and f"{token[:10]}…" in section and token not in page
    hook = TriggerToken.objects.get()
    assert hook.expires_at is not None and hook.created_by == "otto"

    assert APIClient().post(f"/api/hooks/{token}").status_code == 202
    assert TaskExecution.objects.get().trigger == "hook"


def test_an_operator_revokes_a_trigger_url(as_operator, task):
    hook, token = hook_services.create_hook(task, actor="x", via="cli")
    response = as_operator.post(f"/tasks/test-task/hooks/{hook.pk}/revoke", follow=True)
    html = response.content.decode()
    assert f"Trigger URL {hook.prefix}… revoked" in html
    assert 'data-state="revoked"' in html
    assert APIClient().post(f"/api/hooks/{token}").status_code == 404


def test_bad_input_is_named_and_creates_nothing(as_operator, task):
    html = as_operator.post("/tasks/test-task/hooks/new", {"expires_in": "soon"}, follow=True).content.decode()
    assert "Expires in: &#x27;soon&#x27; is not a lifetime" in html
    html = as_operator.post("/tasks/test-task/hooks/new", {"name": "x" * 101}, follow=True).content.decode()
    assert "Name: at most 100 characters." in html
    assert not TriggerToken.objects.exists()


def test_a_lifetime_past_the_calendar_and_a_nul_in_the_name_are_named_not_a_500(as_operator, task):
    response = as_operator.post("/tasks/test-task/hooks/new", {"expires_in": "999999w"}, follow=True)
    assert response.status_code == 200  # 999,999 weeks from now is past the year 9999: an OverflowError before
    assert "Expires in: &#x27;999999w&#x27; is not a lifetime" in response.content.decode()
    response = as_operator.post("/tasks/test-task/hooks/new", {"name": "ci\x00"}, follow=True)
    assert "Name: must not contain a NUL character." in response.content.decode()
    assert not TriggerToken.objects.exists()


def test_a_viewer_sees_no_trigger_urls_and_may_not_make_or_revoke_one(as_viewer, task):
    hook, _token = hook_services.create_hook(task, actor="x", via="cli")
    assert 'id="trigger-urls"' not in as_viewer.get("/tasks/test-task/view").content.decode()
    assert as_viewer.post("/tasks/test-task/hooks/new", {"name": "mine"}).status_code == 403
    assert as_viewer.post(f"/tasks/test-task/hooks/{hook.pk}/revoke").status_code == 403
    hook.refresh_from_db()
    assert hook.revoked_at is None and TriggerToken.objects.count() == 1


def test_a_trigger_url_of_another_task_cannot_be_revoked_through_this_one(as_operator, task, make_task):
    other = make_task("other")
    hook, _token = hook_services.create_hook(other, actor="x", via="cli")
    assert as_operator.post(f"/tasks/test-task/hooks/{hook.pk}/revoke").status_code == 404
    hook.refresh_from_db()
    assert hook.revoked_at is None


@pytest.mark.parametrize("method", ["get"])
def test_the_hook_actions_take_only_posts(as_operator, task, method):
    assert getattr(as_operator, method)("/tasks/test-task/hooks/new").status_code == 405


def test_the_admin_lists_trigger_urls_for_operators_and_revokes_them(client, operator, viewer, task):
    from tasks_app.models import TriggerToken

    hook, token = hook_services.create_hook(task, name="from CI", actor="x", via="cli")
    operator.is_staff = True
    operator.save()
    client.force_login(operator)
    page = client.get("/admin/tasks_app/triggertoken/").content.decode()
    assert hook.prefix in page and "from CI" in page and token not in page
    response = client.post("/admin/tasks_app/triggertoken/", {"action": "revoke", "_selected_action": [hook.pk]},
                           follow=True)
    assert "1 trigger URL revoked." in response.content.decode()
    assert TriggerToken.objects.get().revoked_at is not None and TriggerToken.objects.get().revoked_by == operator.username
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    assert client.get("/admin/tasks_app/triggertoken/").status_code == 403


def test_the_trigger_url_forms_pause_and_bulk_forms_need_the_csrf_token(operator, task):
    """Another site's page that posts to these forms with the operator's session cookie changes nothing."""
    from django.test import Client

    from tasks_app.models import Pause

    hook, _token = hook_services.create_hook(task, actor="x", via="cli")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    assert browser.post("/tasks/test-task/hooks/new", {"name": "evil"}).status_code == 403
    assert browser.post(f"/tasks/test-task/hooks/{hook.pk}/revoke").status_code == 403
    assert browser.post("/pauses", {"tag": "", "reason": "evil"}).status_code == 403
    assert browser.post("/tasks/bulk", {"action": "disable", "task_ids": ["test-task"]}).status_code == 403
    hook.refresh_from_db()
    assert hook.revoked_at is None and TriggerToken.objects.count() == 1 and not Pause.objects.exists()
    task.refresh_from_db()
    assert task.task_enabled


def hooks_section(client, **headers) -> str:
    page = client.get("/tasks/test-task/view", **headers).content.decode()
    return page.split('id="trigger-urls"', 1)[1].split("</section>", 1)[0]


def test_while_a_pause_covers_the_task_its_trigger_urls_section_says_they_are_refused_until_the_pause_ends(
        as_operator, task):
    from datetime import timedelta

    from django.utils import timezone

    from tasks_app.services import pauses

    _hook, token = hook_services.create_hook(task, actor="x", via="cli")
    assert 'id="hooks-paused"' not in hooks_section(as_operator)
    task.task_tags = ["billing"]
    task.save()
    other = pauses.pause(tag="billing", until=timezone.now() + timedelta(hours=2), reason="db", actor="otto",
                         via="api")
    section = hooks_section(as_operator)
    assert ('Trigger URLs are refused while this task is paused (tag billing), until <time datetime="'
            f'{other.until.isoformat()}"') in section
    assert "A call gets 409 and starts nothing." in section
    assert APIClient().post(f"/api/hooks/{token}").status_code == 409  # what the page says, the URL does
    chinese = hooks_section(as_operator, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "此任务已暂停（标签 billing），触发 URL 在" in chinese and "调用会收到 409" in chinese

    pauses.resume(other.pk, actor="otto", via="web")
    pauses.pause(actor="otto", via="web")  # every task, until resumed
    section = hooks_section(as_operator)
    assert ("Trigger URLs are refused while this task is paused (every task), until someone resumes the pause."
            in section)
