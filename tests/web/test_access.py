"""Who may see and do what: every page needs a login, a role decides the buttons, and the server refuses the rest."""
import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from tasks_app.models import Task
from tasks_app.web import urls as web_urls

# Every route of the pages, found in the URL configuration itself, so a page added later is checked too.
SAMPLE_KWARGS = {"task_id": "test-task", "execution_id": 1, "number": 1, "name": "ops", "backfill_id": 1,
                 "hook_id": 1, "pause_id": 1}
PUBLIC = {"login", "logout"}  # the language switcher's include is public too, and not listed here
PAGES = [
    reverse(p.name, kwargs={name: SAMPLE_KWARGS[name] for name in p.pattern.converters})
    for p in web_urls.urlpatterns if isinstance(p, URLPattern) and p.name not in PUBLIC
]
ACTIONS = ["run", "enable", "disable", "stop", "delete", "versions/1/restore"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_sends_an_anonymous_visitor_to_the_login_page(client, task, url):
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("url", ["/tasks/new", "/tasks/test-task/edit", *(f"/tasks/test-task/{a}" for a in ACTIONS)])
def test_every_page_action_needs_the_csrf_token(admin_user, task, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(url, {"task_name": "changed"}).status_code == 403
    assert Task.objects.filter(task_id="test-task", task_enabled=True, task_name=task.task_name).exists()
    assert not task.executions.exists()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_the_login_page_never_redirects_to_another_site(client, viewer, target):
    response = client.post("/login/", {"username": "vera", "password": "pw-vera", "next": target})
    assert response.status_code == 302 and response["Location"] == "/dashboard"  # the landing page


@pytest.mark.parametrize("action", ACTIONS)
def test_an_anonymous_post_changes_nothing_and_asks_for_a_login(client, task, action):
    response = client.post(f"/tasks/{task.task_id}/{action}")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Task.objects.filter(task_id=task.task_id, task_enabled=True).exists()


@pytest.mark.parametrize("url", ["/", "/tasks/test-task/view", "/tasks/test-task/executions", "/tasks/test-task/logs"])
def test_a_user_without_a_role_is_refused_every_page(client, nobody, task, url):
    client.force_login(nobody)
    response = client.get(url)
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()


def test_the_login_page_logs_a_user_in_and_logout_needs_a_post(client, viewer):
    page = client.get("/login/")
    assert page.status_code == 200 and 'name="username"' in page.content.decode()
    response = client.post("/login/", {"username": "vera", "password": "pw-vera"})
    assert response.status_code == 302 and response["Location"] == "/dashboard"  # the landing page
    assert client.get("/").status_code == 200
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_shows_an_error_on_the_login_page(client, viewer):
    response = client.post("/login/", {"username": "vera", "password": "nope"})
    assert response.status_code == 200
    assert "alert-danger" in response.content.decode()


@pytest.mark.parametrize("role_client", ["viewer"], indirect=True)
@pytest.mark.parametrize("url", ["/tasks/new", "/tasks/test-task/edit", "/tasks/test-task/delete"])
def test_a_viewer_may_not_open_the_forms(role_client, task, url):
    assert role_client.get(url).status_code == 403


@pytest.mark.parametrize("role_client", ["viewer"], indirect=True)
@pytest.mark.parametrize("action", ACTIONS)
def test_a_viewer_is_refused_every_action(role_client, task, action):
    assert role_client.post(f"/tasks/{task.task_id}/{action}").status_code == 403
    assert Task.objects.get(task_id=task.task_id).task_enabled
    assert not task.executions.exists()


@pytest.mark.parametrize("role_client", ["operator"], indirect=True)
def test_an_operator_may_not_delete(role_client, task):
    assert role_client.get(f"/tasks/{task.task_id}/delete").status_code == 403
    assert role_client.post(f"/tasks/{task.task_id}/delete").status_code == 403
    assert Task.objects.filter(task_id=task.task_id).exists()


@pytest.mark.parametrize(
    "role_client, shown, hidden",
    [
        ("viewer", [], ["Run now", "/edit", "/delete", "task-enabled-switch", "New task"]),
        ("operator", ["Run now", "/edit", "task-enabled-switch", "New task"], ["/delete"]),
        ("admin", ["Run now", "/edit", "/delete", "task-enabled-switch", "New task"], []),
    ],
    indirect=["role_client"],
)
def test_the_pages_show_only_the_buttons_the_role_allows(role_client, task, shown, hidden):
    pages = role_client.get("/").content.decode() + role_client.get(f"/tasks/{task.task_id}/view").content.decode()
    for text in shown:
        assert text in pages, text
    for text in hidden:
        assert text not in pages, text


def test_a_refused_action_is_logged_with_the_user_name(client, viewer, task, web_log):
    client.force_login(viewer)
    client.post(f"/tasks/{task.task_id}/run")
    assert "vera (role viewer) refused POST /tasks/test-task/run" in web_log.text


def test_actions_accept_only_post(as_admin, task):
    for action in ("run", "enable", "disable", "stop"):
        assert as_admin.get(f"/tasks/{task.task_id}/{action}").status_code == 405


def test_an_unknown_task_is_a_404_page(as_viewer, db):
    response = as_viewer.get(reverse("task_view", args=["no-such-task"]))
    assert response.status_code == 404


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x"])
def test_a_button_goes_back_only_to_a_page_of_this_site(as_operator, task, target):
    response = as_operator.post(f"/tasks/{task.task_id}/disable", {"next": target})
    assert response.status_code == 302 and response["Location"] == f"/tasks/{task.task_id}/view"
