"""Measurement 6: API and pages with 50,000 tasks (two of 20 tags each) and 1,000,000 executions in the
database, and a 1 GB task log. Server time is measured in process (Django's test client through the whole middleware stack, no
network), median of repeated requests; the baseline is the cheapest page of the same server (login)."""
import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    SMOKE, Workspace, insert_finished_runs, median, print_rows, row, sql_time, write_result, yearly_cron)

TASKS = 200 if SMOKE else 50_000
EXECUTIONS = 20_000 if SMOKE else 1_000_000
HEAVY_SHARE = 0.1  # the first task holds this share of all executions: its history is the long one
LOG_BYTES = (8 if SMOKE else 1024) * 1024 * 1024
REPEAT = 5 if SMOKE else 20
TAGS = ["etl", "report", "backup", "billing", "sync", "mail", "cleanup", "nightly", "hourly", "finance", "ops", "crm",
        "search", "index", "cache", "export", "import", "audit", "ml", "web"]


def fill_executions(db_path: Path, task_pks: list[int], total: int):
    """Bulk insert `total` finished executions."""
    heavy = int(total * HEAVY_SHARE)
    per_other = max(1, (total - heavy) // max(1, len(task_pks) - 1))
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)

    def runs():
        n = 0
        for index, pk in enumerate(task_pks):
            count = heavy if index == 0 else per_other
            for k in range(count):
                if n >= total:
                    return
                n += 1
                slot = start + timedelta(minutes=k * (1 if index == 0 else 60))
                failed = k % 17 == 0
                yield {"task_id": pk, "status": "failed" if failed else "success", "scheduled_time": sql_time(slot),
                       "queued_at": sql_time(slot), "start_time": sql_time(slot + timedelta(milliseconds=3)),
                       "end_time": sql_time(slot + timedelta(seconds=2)), "return_code": 1 if failed else 0,
                       "error_message": "exit code 1" if failed else "", "duration": 2.0, "pid": 1000 + k % 30000}

    con = insert_finished_runs(db_path, runs())
    # Two tags per task, 20 tags in all: each tag on a tenth of the tasks, 400 distinct sets (the tag cloud).
    with con:
        con.executemany("UPDATE tasks_app_task SET task_tags = ? WHERE id = ?", [
            (json.dumps(sorted({TAGS[i % 20], TAGS[i // 20 % 20]})), pk) for i, pk in enumerate(task_pks)])
    # The status rows as the scheduler keeps them: last run and next fire time stored, not computed per row.
    with con:
        con.execute("""
            UPDATE tasks_app_taskstatus SET
              last_execution_id = (SELECT MAX(execution_id) FROM tasks_app_taskexecution e
                                   WHERE e.task_id = tasks_app_taskstatus.task_id),
              last_status = 'success', last_start_time = '2025-06-01 00:00:00', last_end_time = '2025-06-01 00:00:02',
              next_run_time = '2027-01-01 00:00:00'
        """)
    con.execute("ANALYZE")
    con.close()


def write_log(path: Path, size: int):
    """A task log of `size` bytes in the document's format (written for real, not sparse)."""
    line = "2025-06-01 00:00:00,000 - test_task - INFO - step {:08d}: processed a batch of records\n"
    block = "".join(line.format(i) for i in range(12_000)).encode()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            f.write(block)
            written += len(block)
    return path.stat().st_size


def timed(client, url, repeat=REPEAT):
    """Median server time (ms) of GET url, queries per request, after two warm-up requests."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        times.append((time.perf_counter() - t0) * 1000)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return {"url": url, "median_ms": median(times), "max_ms": max(times), "queries": len(queries),
            "bytes": len(response.content) if not hasattr(response, "streaming_content") else None}


def main():
    ws = Workspace("web").migrate()
    ws.setup_django()
    t0 = time.monotonic()
    ws.add_tasks(TASKS, script="typical.py", schedule=yearly_cron, prefix="t")
    from django.db import connection

    from tasks_app.models import Task

    pks = list(Task.objects.order_by("task_id").values_list("pk", flat=True))
    connection.close()
    fill_executions(ws.db_path, pks, EXECUTIONS)
    log_size = write_log(ws.logs_dir / "task_t00000.log", LOG_BYTES)
    fill_s = time.monotonic() - t0
    print(f"{TASKS} tasks, {EXECUTIONS} executions and a {log_size / 2**30:.2f} GiB log in {fill_s:.1f} s")

    from django.contrib.auth.models import Group, User
    from django.test import Client

    user = User.objects.create_user("bench", password="x" * 20)
    user.groups.add(Group.objects.get(name="admin"))
    client = Client()
    client.force_login(user)
    # The execution history is paged by cursor (keyset): page 2 is the first answer's next link; the
    # deep end is reached by date (until = the heavy task's 100th run) and then by that page's next link.
    history = "/api/tasks/t00000/executions"
    page2 = client.get(history).json()["next"]
    oldest_100th = (datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=99)).strftime("%Y-%m-%dT%H:%M:%SZ")
    by_date = f"{history}?until={oldest_100th}"
    deepest = client.get(by_date).json()["next"]
    # /metrics: the first scrape after an upgrade adds up to 100,000 old runs to its totals (timed alone); then
    # the rest of the history is added, and a scrape adds only what ended since the last one.
    from tasks_app.metrics.tally import AT_MOST, fold

    t1 = time.perf_counter()
    client.get("/metrics")
    first_scrape_ms = (time.perf_counter() - t1) * 1000
    fold(at_most=EXECUTIONS)
    m = {
        "baseline": timed(Client(), "/login/"),
        "metrics": timed(client, "/metrics"),
        "api_tasks": timed(client, "/api/tasks?page=2"),
        "api_tasks_last": timed(client, f"/api/tasks?page={TASKS // 50}"),
        "api_executions": timed(client, page2),
        "api_executions_by_date": timed(client, by_date),
        "api_executions_deep": timed(client, deepest),
        "task_list_page": timed(client, "/"),
        "task_list_tag": timed(client, "/?tag=etl"),
        "api_tasks_tag": timed(client, "/api/tasks?tag=etl"),
        "history_page": timed(client, "/tasks/t00000/executions"),
        "api_log_tail": timed(client, "/api/tasks/t00000/logs?tail=100"),
        "log_page_lines": timed(client, "/tasks/t00000/logs/lines?tail=100"),
    }
    base = m["baseline"]["median_ms"]

    def r(label, key, bar_ms):
        v = m[key]["median_ms"]
        return row(f"6. {label} ({m[key]['queries']} queries)", v, base, unit="ms", bar=f"<= {bar_ms} ms",
                   passed=v <= bar_ms)

    rows = [
        r("API: a page of 50 tasks", "api_tasks", 20),
        r(f"API: a page of 50 executions of a task with {int(EXECUTIONS * HEAVY_SHARE):,} (page 2)", "api_executions",
          20),
        r("API: that task's executions from a date near the oldest (until=...)", "api_executions_by_date", 20),
        r("API: the deepest page of that task's executions (next link)", "api_executions_deep", 20),
        r(f"page: task list ({TASKS:,} tasks, with the tag cloud)", "task_list_page", 300),
        r(f"page: task list filtered by a tag (about 1 in 10 of {TASKS:,} tasks)", "task_list_tag", 300),
        r(f"API: a page of 50 tasks filtered by a tag (about 1 in 10 of {TASKS:,})", "api_tasks_tag", 50),
        r("page: a task's execution history", "history_page", 50),
        r(f"API: {LOG_BYTES / 2**30:.3g} GiB task log tailed (last 100 lines)", "api_log_tail", 50),
        r(f"/metrics, {TASKS:,} tasks (per-task labels: {'on' if TASKS <= 1000 else 'off'}), history counted",
          "metrics", 500),
        row(f"6. /metrics: the first scrape after an upgrade counts {min(AT_MOST, EXECUTIONS):,} old runs",
            first_scrape_ms, base, unit="ms", bar="<= 10000 ms (a scrape's timeout)", passed=first_scrape_ms <= 10000),
    ]
    write_result("web", rows, {"measurements": m, "tasks": TASKS, "executions": EXECUTIONS, "log_bytes": log_size,
                               "fill_s": fill_s, "metrics_first_scrape_ms": first_scrape_ms})
    print_rows(rows)
    ws.cleanup()


if __name__ == "__main__":
    main()
