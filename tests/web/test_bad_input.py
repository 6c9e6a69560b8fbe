"""Odd input on the pages gets a clear 4xx or an error next to the filter, never a 500: page numbers, dates,
ids that no task or run can have, NUL bytes and huge query strings."""
import pytest

from tasks_app.models import TaskExecution

HUGE = "x" * 60_000  # past SQLite's LIKE pattern limit (50,000 bytes)


@pytest.fixture
def a_run(task):
    return TaskExecution.objects.create(task=task, status="success", trigger="manual")


@pytest.mark.parametrize("url, text", [
    ("/?q=" + HUGE, "q is 60000 characters long; at most 200 are allowed."),
    ("/?q=%00", "q must not contain a NUL character."),
    ("/?state=sleeping", "state &#x27;sleeping&#x27; is not one of running, idle, disabled."),
    ("/?last=queued", "last &#x27;queued&#x27; is not one of success, failed"),
    ("/tasks/test-task/executions?until=9999-12-31", "use a year between 1900 and 9000"),
    ("/tasks/test-task/executions?since=0001-01-01", "use a year between 1900 and 9000"),
    ("/tasks/test-task/executions?status=%00", "status must not contain a NUL character."),
])
def test_a_bad_filter_is_explained_next_to_it(as_viewer, a_run, url, text):
    response = as_viewer.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert text in html and "invalid-feedback" in html


@pytest.mark.parametrize("page", ["abc", "-1", "1e9", "99999999999999999999999", "9223372036854775807"])
def test_any_page_number_of_the_history_gives_a_page(as_viewer, a_run, page):
    response = as_viewer.get(f"/tasks/test-task/executions?page={page}")
    assert response.status_code == 200


@pytest.mark.parametrize("url", [
    "/tasks/%E4%BD%A0%E5%A5%BD/view",
    "/tasks/%00/view",
    "/tasks/" + "a" * 65 + "/executions",
    "/tasks/test-task/executions/99999999999999999999999",
    "/tasks/test-task/executions/0",
])
def test_an_id_no_task_or_run_can_have_is_a_404(as_viewer, a_run, url):
    assert as_viewer.get(url).status_code == 404


@pytest.mark.parametrize("query, field", [
    ("tail=abc", "tail"),
    ("tail=0", "tail"),
    ("offset=-1", "offset"),
    ("before=99999999999999999999999", "before"),
    ("since=yesterday", "since"),
    ("until=0001-01-01T00:00:00%2B14:00", "until"),
    ("level=loud", "level"),
    ("search=" + HUGE, "search"),
])
def test_the_live_tail_refuses_a_bad_parameter_with_a_400_naming_it(as_viewer, task, query, field):
    response = as_viewer.get(f"/tasks/test-task/logs/lines?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize("query, text", [
    ("expr=*+*+*+*+*&tz=" + "a" * 5000, "tz is 5000 characters long"),
    ("expr=*+*+*+*+*&tz=..%2F..%2Fetc%2Fpasswd", "is not a known IANA time zone"),
    ("expr=%00", "expr must not contain a NUL character."),
    ("expr=" + "1" * 300, "expr is 300 characters long"),
])
def test_the_cron_preview_refuses_bad_input_with_a_400(as_viewer, db, query, text):
    response = as_viewer.get(f"/tasks/cron-preview?{query}")
    assert response.status_code == 400
    assert text in response.content.decode()
