"""Measurement 8: the operators' view. The dashboard's server time (/dashboard and GET /api/stats) with 1,000
tasks and 100,000 runs in its 24-hour window (and as many again over the two weeks before, for the 7-day rates and
the slowest tasks' trend), and a bulk enable of 1,000 tasks: how long the request takes, and how long until the
running scheduler has scheduled all of them (their jobs in its job store). Server time is measured in process
(Django's test client, the whole middleware stack), median of repeated requests; the baseline is the login page."""
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    SMOKE, Workspace, insert_finished_runs, median, print_rows, row, sql_time, wait_until, write_result, yearly_cron)

TASKS = 100 if SMOKE else 1_000
WINDOW_RUNS = 5_000 if SMOKE else 100_000  # in the last 24 hours
EARLIER_RUNS = WINDOW_RUNS  # over the 13 days before
BULK = 100 if SMOKE else 1_000
REPEAT = 5 if SMOKE else 15
STATUSES = ["success"] * 15 + ["failed", "timeout", "skipped", "success", "lost"]


def fill_runs(db_path: Path, task_pks: list[int], now: datetime):
    """WINDOW_RUNS runs spread over the last 24 hours and EARLIER_RUNS over the 13 days before, every task
    alike, with varied results and durations."""
    def runs():
        for total, span, offset in ((WINDOW_RUNS, timedelta(hours=24), timedelta(0)),
                                    (EARLIER_RUNS, timedelta(days=13), timedelta(hours=24))):
            per_task = total // len(task_pks)
            step = span / per_task
            for index, pk in enumerate(task_pks):
                for k in range(per_task):
                    start = now - offset - span + step * k + timedelta(seconds=index % 60)
                    status = STATUSES[(k + index) % len(STATUSES)]
                    duration = 0.0 if status == "skipped" else 1.0 + (index % 50) + (k % 7)
                    yield {"task_id": pk, "status": status, "scheduled_time": sql_time(start),
                           "queued_at": sql_time(start), "start_time": sql_time(start),
                           "end_time": sql_time(start + timedelta(seconds=duration)),
                           "return_code": 0 if status == "success" else 1, "duration": duration}

    con = insert_finished_runs(db_path, runs())
    with con:  # the status rows as the scheduler keeps them
        con.execute("""
            UPDATE tasks_app_taskstatus SET
              last_execution_id = (SELECT MAX(execution_id) FROM tasks_app_taskexecution e
                                   WHERE e.task_id = tasks_app_taskstatus.task_id),
              last_status = COALESCE((SELECT status FROM tasks_app_taskexecution e WHERE e.execution_id =
                                      (SELECT MAX(execution_id) FROM tasks_app_taskexecution f
                                       WHERE f.task_id = tasks_app_taskstatus.task_id)), '')
        """)
    con.execute("ANALYZE")
    con.close()


def timed(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return {"url": url, "median_ms": median(times), "max_ms": max(times), "queries": len(queries),
            "bytes": len(response.content)}


def timed_cold(client, url):
    """Median server time (ms) of GET url with an empty cache each time: the first read after a restart, before
    any hour of the window has been kept."""
    from django.core.cache import cache

    client.get(url)
    times = []
    for _ in range(max(3, REPEAT // 3)):
        cache.clear()
        t0 = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    return {"url": url, "median_ms": median(times), "max_ms": max(times), "queries": None}


def jobs_of(prefix) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_apscheduler_djangojob WHERE id LIKE %s", [prefix + "%"])
        return cursor.fetchone()[0]


def main():
    ws = Workspace("ops").migrate()
    ws.setup_django()
    now = datetime.now(timezone.utc)
    t0 = time.monotonic()
    # Slots in the next 24 hours (the timeline's marks) but none in the next two hours: the scheduler started
    # for the bulk enable must not be busy running these meanwhile. Tags for the filter.
    hours = [(now.hour + 2 + k) % 24 for k in range(20)]
    ws.add_tasks(TASKS, script="noop.py", prefix="d", task_tags=["nightly"],
                 schedule=lambda i: f"{i % 60} {','.join(map(str, hours[i % 5::5]))} * * *")
    ws.add_tasks(BULK, script="noop.py", schedule=yearly_cron, prefix="bulk", task_enabled=False)
    from django.db import connection

    from tasks_app.models import Task

    pks = list(Task.objects.filter(task_id__startswith="d").order_by("task_id").values_list("pk", flat=True))
    connection.close()
    fill_runs(ws.db_path, pks, now)
    fill_s = time.monotonic() - t0
    print(f"{TASKS} tasks and {WINDOW_RUNS + EARLIER_RUNS} runs in {fill_s:.1f} s", flush=True)

    from django.contrib.auth.models import Group, User
    from django.test import Client

    user = User.objects.create_user("bench", password="x" * 20)
    user.groups.add(Group.objects.get(name="operator"))
    client = Client()
    client.force_login(user)
    m = {
        "baseline": timed(Client(), "/login/"),
        "dashboard_cold": timed_cold(client, "/dashboard"),
        "dashboard": timed(client, "/dashboard"),
        "dashboard_tag": timed(client, "/dashboard?tag=nightly"),
        "api_stats": timed(client, "/api/stats"),
    }

    # Bulk enable with the real scheduler running: the request, then until every job is in its store.
    from tasks_app.services import bulk

    ids = list(Task.objects.filter(task_id__startswith="bulk").order_by("task_id").values_list("task_id", flat=True))
    connection.close()
    with ws.start_scheduler() as scheduler:
        scheduler.wait_ready()
        assert jobs_of("bulk") == 0
        t1 = time.monotonic()
        outcomes = bulk.bulk_action("enable", ids, actor="bench", via="cli")
        request_s = time.monotonic() - t1
        assert sum(o.result == "done" for o in outcomes) == BULK
        connection.close()
        wait_until(lambda: jobs_of("bulk") == BULK, 30, interval=0.02, what="every enabled task's job")
        applied_s = time.monotonic() - t1
    m["bulk_enable"] = {"tasks": BULK, "request_s": request_s, "applied_s": applied_s}

    base = m["baseline"]["median_ms"]

    def r(label, key, bar_ms):
        v = m[key]["median_ms"]
        queries = f" ({m[key]['queries']} queries)" if m[key]["queries"] is not None else ""
        return row(f"8. {label}{queries}", v, base, unit="ms", bar=f"<= {bar_ms} ms", passed=v <= bar_ms)

    rows = [
        r(f"page: dashboard ({TASKS:,} tasks, {WINDOW_RUNS:,} runs in 24 h)", "dashboard", 300),
        r("page: dashboard, first read with nothing cached", "dashboard_cold", 300),
        r("page: dashboard filtered by a tag", "dashboard_tag", 300),
        r("API: /api/stats", "api_stats", 300),
        row(f"8. bulk enable of {BULK:,} tasks: the request", request_s, bar="<= 2 s", passed=request_s <= 2.0,
            unit="s"),
        row(f"8. bulk enable of {BULK:,} tasks: until the scheduler has scheduled all", applied_s, bar="<= 2 s",
            passed=applied_s <= 2.0, unit="s"),
    ]
    write_result("ops", rows, {"measurements": m, "tasks": TASKS, "window_runs": WINDOW_RUNS,
                               "earlier_runs": EARLIER_RUNS, "fill_s": fill_s})
    print_rows(rows)
    ws.cleanup()


if __name__ == "__main__":
    main()
