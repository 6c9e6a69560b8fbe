"""The pages: /channels for every role (operators change them, the URL shown as scheme and host, a test message's
exact error shown), the task list's and the task page's alert badges, and the notices on a run's page."""
import pytest
from django.utils import timezone

from tasks_app.alerts import outbox
from tasks_app.models import Channel, Incident, IncidentKind, TaskExecution
from tasks_app.services.tasks import create_task
from tests.api.conftest import simple_task
from tests.web.conftest import make_user

from .helpers import json_channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    client.force_login(make_user("otto", "operator"))
    return client


def test_a_viewer_sees_the_channels_with_scheme_and_host_only_and_no_buttons(client):
    json_channel("ops", is_default=True, description="on call")
    client.force_login(make_user("vera", "viewer"))

    page = client.get("/channels").content.decode()

    assert "jsons://hooks.example.com" in page and "/ops" not in page.replace("/channels", "")
    assert "on call" in page and "New channel" not in page and "Send test message" not in page


def test_an_operator_creates_a_channel_on_the_page_and_a_bad_url_is_named(operator_client):
    bad = operator_client.post("/channels/new", {"name": "chat", "url": "nosuch://abc"})
    assert bad.status_code == 400 and "does not understand this nosuch:// URL" in bad.content.decode()

    made = operator_client.post("/channels/new", {"name": "chat", "url": "feishu://f3ishuT0ken", "is_default": "on"})

    assert made.status_code == 302 and made["Location"] == "/channels"
    channel = Channel.objects.get(name="chat")
    assert channel.is_default and channel.shown_url == "feishu://open.feishu.cn"
    form = operator_client.get("/channels/chat/edit").content.decode()
    assert "feishu://open.feishu.cn" in form and "f3ishuT0ken" not in form
    token = channel.url["encrypted"]
    operator_client.post("/channels/chat/edit", {"name": "chat", "url": "feishu://open.feishu.cn", "description": "x"})
    assert Channel.objects.get(name="chat").url["encrypted"] == token  # the shown form keeps the stored URL


def test_the_test_button_shows_the_exact_error(operator_client, stand_in, settings):
    json_channel("ops")
    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = []

    page = operator_client.post("/channels/ops/test", follow=True).content.decode()

    assert "was not sent: refused: 127.0.0.1" in page and "127.0.0.1 is not a public address" in page

    settings.NOTIFY_ALLOW_PRIVATE_HOSTS = ["127.0.0.1"]
    page = operator_client.post("/channels/ops/test", follow=True).content.decode()
    assert "Test message sent to ops" in page and len(stand_in.received) == 1


def test_open_incidents_show_as_badges_on_the_list_and_the_task_page(operator_client):
    task = create_task(simple_task("nightly"), actor="otto", via="web")
    Incident.objects.create(kind=IncidentKind.MISSED, key="nightly", task=task, slot=timezone.now(),
                            opened_at=timezone.now())

    listing = operator_client.get("/").content.decode()
    assert 'data-alert="missed"' in listing and "missed run" in listing
    view = operator_client.get("/tasks/nightly/view").content.decode()
    assert 'class="incident" data-kind="missed"' in view


def test_a_runs_page_shows_its_notices_with_their_attempts_and_error(operator_client):
    channel = json_channel("ops")
    task = create_task({**simple_task("nightly"), "task_channels": ["ops"]}, actor="otto", via="web")
    execution = TaskExecution.objects.create(task=task, status="failed", return_code=1)
    (notice,) = outbox.queue("failure", title="t", body="b", task=task, execution=execution, channels=[channel])
    type(notice).objects.filter(pk=notice.pk).update(status="failed", attempts=4, last_error="hooks.example.com: HTTP 503")

    page = operator_client.get(f"/tasks/nightly/executions/{execution.pk}").content.decode()

    assert 'id="notices"' in page and "hooks.example.com: HTTP 503" in page and "not sent" in page
    assert "jsons://hooks.example.com" in page
