"""A task's execution history is paged by cursor: every run once, newest first, filters kept in the links, pages
that new runs do not shift, and a deep page that costs what the first one does (no COUNT, no OFFSET)."""
import base64
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks_app.api.pagination import ExecutionCursorPagination
from tasks_app.models import ExecutionStatus, TaskExecution, Trigger
from tasks_app.services.tasks import create_task

from .conftest import simple_task

pytestmark = pytest.mark.django_db
URL = "/api/tasks/job/executions"


@pytest.fixture
def task(db):
    return create_task(simple_task("job"), actor="t", via="cli")


def add_runs(task, n, failed_every=3):
    """n finished runs an hour apart from 2024-01-01 (every `failed_every`-th failed); their ids, oldest first."""
    start = datetime(2024, 1, 1, tzinfo=dt_timezone.utc)
    runs = TaskExecution.objects.bulk_create(
        TaskExecution(task=task, trigger=Trigger.SCHEDULE, scheduled_time=start + timedelta(hours=i),
                      start_time=start + timedelta(hours=i), end_time=start + timedelta(hours=i, seconds=2),
                      status=ExecutionStatus.FAILED if i % failed_every == 0 else ExecutionStatus.SUCCESS)
        for i in range(n)
    )
    return [run.execution_id for run in runs]  # bulk_create sets ids on SQLite and PostgreSQL


def ids(body):
    return [run["execution_id"] for run in body["results"]]


def walk(client, url, link="next"):
    """Every page from `url` on, following `link`: a list of (ids, answer)."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append((ids(body), body))
        url = body[link]
    return pages


def test_following_next_gives_every_run_once_newest_first_and_previous_walks_back(viewer_client, task):
    runs = add_runs(task, 7)
    forward = walk(viewer_client, f"{URL}?page_size=3")
    newest_first = list(reversed(runs))
    assert [page for page, _ in forward] == [newest_first[0:3], newest_first[3:6], newest_first[6:7]]
    assert set(forward[0][1]) == {"next", "previous", "results"}  # no count: counting is what made deep pages slow
    assert forward[0][1]["previous"] is None and forward[-1][1]["next"] is None
    back = walk(viewer_client, forward[-1][1]["previous"], link="previous")
    assert [page for page, _ in back] == [newest_first[3:6], newest_first[0:3]]


def test_the_default_page_is_50_runs_and_page_size_goes_up_to_200(viewer_client, task):
    add_runs(task, 230)
    assert len(viewer_client.get(URL).json()["results"]) == 50
    assert len(viewer_client.get(f"{URL}?page_size=200").json()["results"]) == 200


def test_the_links_keep_the_filters(viewer_client, task):
    runs = add_runs(task, 10, failed_every=3)  # runs 0, 3, 6 and 9 failed
    since = "2024-01-01T01:00:00Z"  # leaves out run 0
    pages = walk(viewer_client, f"{URL}?status=failed&since={since}&page_size=2")
    assert [page for page, _ in pages] == [[runs[9], runs[6]], [runs[3]]]
    assert "status=failed" in pages[0][1]["next"] and "since=" in pages[0][1]["next"]


def test_a_run_added_while_a_client_pages_shifts_nothing(viewer_client, task):
    runs = add_runs(task, 6)
    first = viewer_client.get(f"{URL}?page_size=2").json()
    newer = TaskExecution.objects.create(task=task, trigger=Trigger.MANUAL)
    second = viewer_client.get(first["next"]).json()
    assert ids(first) == [runs[5], runs[4]] and ids(second) == [runs[3], runs[2]]  # with page 2 it was runs[4] again
    back = viewer_client.get(second["previous"]).json()
    assert ids(back) == [runs[5], runs[4]] and newer.execution_id not in ids(back)
    assert ids(viewer_client.get(back["previous"]).json()) == [newer.execution_id]


def test_a_deep_page_costs_what_the_first_one_does_without_count_or_offset(viewer_client, task):
    add_runs(task, 130)
    viewer_client.get(URL)  # the key's first use of the minute also records when it was used
    pages = []
    url = URL
    while url:
        with CaptureQueriesContext(connection) as queries:
            body = viewer_client.get(url).json()
        pages.append([q["sql"] for q in queries.captured_queries])
        url = body["next"]
    assert len(pages) == 3 and len({len(sql) for sql in pages}) == 1, pages
    runs_sql = [sql for sql in pages[-1] if '"tasks_app_taskexecution"' in sql and "LIMIT" in sql]
    assert len(runs_sql) == 1 and "LIMIT 51" in runs_sql[0] and "OFFSET" not in runs_sql[0]
    assert not any("COUNT(" in sql.upper() for page in pages for sql in page)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the benchmark's database; PostgreSQL plans by statistics")
def test_a_page_is_read_through_the_task_newest_index(task):
    query = task.executions.filter(execution_id__lt=10**6).order_by(ExecutionCursorPagination.ordering)[:51]
    assert "execution_task_newest" in query.explain()


def cursor(text):
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("query, field", [
    ("page=2", "page"), ("page=1", "page"),
    ("page_size=0", "page_size"), ("page_size=201", "page_size"), ("page_size=all", "page_size"),
    ("cursor=abc", "cursor"), ("cursor=%00", "cursor"), ("cursor=" + "x" * 201, "cursor"), ("cursor=é", "cursor"),
    (f"cursor={cursor('p=abc')}", "cursor"), (f"cursor={cursor('p=-1')}", "cursor"),
    (f"cursor={cursor('p=' + '9' * 30)}", "cursor"), (f"cursor={cursor('o=-1&p=5')}", "cursor"),
    (f"cursor={cursor('r=x&p=5')}", "cursor"),
])
def test_bad_paging_parameters_are_a_400_naming_the_parameter(viewer_client, task, query, field):
    add_runs(task, 3)
    response = viewer_client.get(f"{URL}?{query}")
    assert response.status_code == 400 and list(response.json()) == [field], response.content
    assert field in response.json()[field][0]


def test_a_cursor_past_the_oldest_run_is_an_empty_page_that_leads_back(viewer_client, task):
    runs = add_runs(task, 3)
    body = viewer_client.get(f"{URL}?cursor={cursor(f'p={runs[0]}')}").json()  # the runs older than the oldest
    assert body["results"] == [] and body["next"] is None
    assert ids(viewer_client.get(body["previous"]).json()) == [runs[2], runs[1]]  # the runs newer than it


def test_the_browsable_api_shows_the_history_with_its_page_links(client_as, task):
    add_runs(task, 60)
    response = client_as("viewer").get(URL, HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and "cursor=" in response.content.decode()


def late_starter(task, start):
    """A run created after all the others (the largest id) that started earlier, like a retry that waited."""
    return TaskExecution.objects.create(task=task, trigger=Trigger.RETRY, status=ExecutionStatus.SUCCESS,
                                        start_time=start, end_time=start + timedelta(seconds=1)).execution_id


def test_filtered_by_time_the_history_is_paged_by_start_time_within_the_window(viewer_client, task):
    runs = add_runs(task, 10)  # they start at 00:00, 01:00, ... 09:00
    late = late_starter(task, datetime(2024, 1, 1, 2, 30, tzinfo=dt_timezone.utc))
    pages = walk(viewer_client, f"{URL}?until=2024-01-01T06:00:00Z&page_size=3")
    expected = [[runs[6], runs[5], runs[4]], [runs[3], late, runs[2]], [runs[1], runs[0]]]
    assert [page for page, _ in pages] == expected
    back = walk(viewer_client, pages[-1][1]["previous"], link="previous")
    assert [page for page, _ in back] == expected[1::-1]  # and never past until
    window = walk(viewer_client, f"{URL}?since=2024-01-01T02:00:00Z&until=2024-01-01T06:00:00Z&page_size=3")
    assert [page for page, _ in window] == [expected[0], expected[1]]
    assert ids(viewer_client.get(window[-1][1]["previous"]).json()) == expected[0]
    since = walk(viewer_client, f"{URL}?since=2024-01-01T07:00:00Z&page_size=2")
    assert [page for page, _ in since] == [[runs[9], runs[8]], [runs[7]]]
    assert ids(viewer_client.get(since[-1][1]["previous"]).json()) == [runs[9], runs[8]]  # and never before since


def test_an_edited_link_still_keeps_to_its_window(viewer_client, task):
    runs = add_runs(task, 10)
    second = viewer_client.get(f"{URL}?until=2024-01-02T00:00:00Z&page_size=3").json()["next"]  # from 06:00 down
    edited = second.replace("until=2024-01-02T00%3A00%3A00Z", "until=2024-01-01T04:00:00Z")
    assert edited != second and ids(viewer_client.get(edited).json()) == [runs[4], runs[3], runs[2]]


def page_queries(client, url):
    """The SQL of the query that read the runs of the page at `url`, and the answer."""
    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).json()
    runs_sql = [q["sql"] for q in queries.captured_queries if '"tasks_app_taskexecution"' in q["sql"]
                and "LIMIT" in q["sql"]]
    assert len(runs_sql) == 1, runs_sql
    return runs_sql[0], body


def test_a_deep_page_of_a_window_bounds_the_start_time_once_a_side(viewer_client, task):
    add_runs(task, 30)
    first = viewer_client.get(f"{URL}?since=2024-01-01T01:00:00Z&until=2024-01-01T20:00:00Z&page_size=5").json()
    sql, second = page_queries(viewer_client, first["next"])
    # until is implied by the cursor: a second upper bound could be the one the database ranges its index on.
    assert sql.count('"start_time" <') == 1 and sql.count('"start_time" >') == 1 and "OFFSET" not in sql
    sql, _ = page_queries(viewer_client, second["previous"])
    assert sql.count('"start_time" <') == 1 and sql.count('"start_time" >') == 1
    if connection.vendor == "sqlite":  # the benchmark's database: the window is read on the start_time index
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "execution_task_start" in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("position", ["123", "2024-13-01 00:00:00+00:00", "2024-01-01 00:00:00", "9999-01-01T00:00Z",
                                      "2024-01-01T00:00:00+99:00", "0001-01-01T00:00:00+01:00", "yesterday"])
def test_a_cursor_that_is_not_a_start_time_is_a_400_in_a_window(viewer_client, task, position):
    add_runs(task, 3)
    response = viewer_client.get(URL, {"until": "2024-02-01T00:00:00Z", "cursor": cursor(f"p={position}")})
    assert response.status_code == 400 and list(response.json()) == ["cursor"]


def test_a_cursor_of_a_window_is_a_400_without_one(viewer_client, task):
    add_runs(task, 5)
    windowed = viewer_client.get(f"{URL}?until=2024-02-01T00:00:00Z&page_size=2").json()["next"]
    unwindowed = windowed.replace("until=2024-02-01T00%3A00%3A00Z", "")
    assert unwindowed != windowed
    response = viewer_client.get(unwindowed)
    assert response.status_code == 400 and list(response.json()) == ["cursor"]
