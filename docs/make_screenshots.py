"""Write a PNG of each page (list, new, view, logs, executions, execution, admin, calendars, calendar, backfill,
graph, dashboard, bulk actions, pause) into docs/screenshots/. SCREENSHOTS_ONLY=dashboard,pauses makes only those.

Run from the project root: `.venv/bin/python docs/make_screenshots.py` (what `make screenshots` does).
It builds a throwaway SQLite project state in a temporary folder (tasks, runs, logs), starts the web server
on a free local port, and photographs the pages with headless Chromium (Debian's /usr/bin/chromium).
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PY = sys.executable
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "screenshots-only-password"

# Made inside the throwaway project by `manage.py shell`: a few tasks with some history and a log.
SEED = r'''
import datetime as dt, random
from django.contrib.auth.models import User
from django.utils import timezone
from tasks_app.models import Task, TaskExecution, TaskStatus
from tasks_app.services.tasks import create_task, set_enabled
from tasks_app.definition.paths import resolve_log_path

User.objects.create_superuser("admin", "admin@example.com", "%(password)s")
base = dict(task_exec="tasks/test_task.py", task_timeout=300, task_retry=3, task_retry_interval=60)
create_task(dict(base, task_id="test-task", task_name="测试任务", task_desc="用于测试任务调度引擎的功能",
                 task_schedule="*/3 * * * *", task_env={"TASK_NAME": "测试任务", "PARAM1": "值1", "PARAM2": "值2",
                 "DISPLAY_COLOR": "blue"}, task_notify={"on_success": False, "on_failure": True,
                 "email": "admin@example.com"}), actor="admin", via="cli")
create_task(dict(base, task_id="nightly-backup", task_name="Nightly database backup", task_schedule="30 2 * * *",
                 task_timezone="Europe/Berlin", task_overlap="queue"), actor="admin", via="cli")
create_task(dict(base, task_id="report-after-backup", task_name="Send the backup report",
                 task_schedule="", task_dependencies=["nightly-backup"]), actor="admin", via="cli")
create_task(dict(base, task_id="cleanup", task_name="Remove temporary files older than a week from every upload "
                 "folder of the three customer portals", task_schedule="0 */6 * * 1-5"), actor="admin", via="cli")
legacy = create_task(dict(base, task_id="legacy-sync", task_name="Legacy CRM sync", task_schedule="15 8 * * 1"),
                     actor="admin", via="cli")
set_enabled(legacy, False, actor="admin", via="cli")

now = timezone.now()
rng = random.Random(7)
for task in Task.objects.all():
    last = None
    for i in range(50 if task.task_id == "test-task" else 12):
        start = now - dt.timedelta(minutes=3 * (50 - i) + 1)
        status = rng.choices(["success", "failed", "timeout"], [12, 2, 1])[0] if i != 47 else "failed"
        duration = rng.uniform(1.8, 4.5) if status == "success" else rng.uniform(0.3, 9)
        last = TaskExecution.objects.create(
            task=task, status=status, trigger="manual" if i %% 9 == 0 else "schedule",
            scheduled_time=start.replace(second=0, microsecond=0) if i %% 9 else None, attempt=1, start_time=start,
            end_time=start + dt.timedelta(seconds=duration), duration=duration,
            return_code=0 if status == "success" else (1 if status == "failed" else -15),
            error_message="" if status == "success" else ("Exited with code 1" if status == "failed"
                                                          else "Timed out after 300 s"),
            requested_by="admin" if i %% 9 == 0 else "scheduler")
        out = last.output_path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(f"2025-01-01 10:00:{s:02d},000 - test_task - INFO - step {s}\n" for s in range(8))
                       + ("Traceback (most recent call last):\n  File \"tasks/test_task.py\", line 3\n"
                          "ValueError: the upstream server answered 503\n" if status == "failed" else ""))
    TaskStatus.objects.filter(task=task).update(
        last_execution=last, last_status=last.status, last_start_time=last.start_time, last_end_time=last.end_time)
running = TaskExecution.objects.create(task=Task.objects.get(task_id="nightly-backup"), status="running",
                                       trigger="manual", start_time=now - dt.timedelta(seconds=42),
                                       requested_by="admin", attempt=1)
running.output_path.parent.mkdir(parents=True, exist_ok=True)
running.output_path.write_text("dumping table customers ...\ndumping table orders ...\n")
TaskStatus.objects.filter(task_id=running.task_id).update(running=True)

# Business calendars, a backfill and a dependency graph worth a picture.
from tasks_app.services.backfills import start_backfill
from tasks_app.services.calendars import create_calendar
create_calendar({"name": "ops-freeze", "base": "cn-workdays", "description": "Working days, less release freezes",
                 "added_dates": ["2025-10-12"], "removed_dates": ["2025-10-31"],
                 "ranges": [{"start": "2025-10-20", "end": "2025-10-24", "label": "release freeze"}]},
                actor="admin", via="cli")
Task.objects.filter(task_id="nightly-backup").update(task_calendar="cn-workdays")
create_task(dict(base, task_id="publish-report", task_name="Publish the daily report", task_schedule="",
                 task_dependencies=["report-after-backup", "cleanup"]), actor="admin", via="cli")
TaskStatus.objects.filter(task__task_id="nightly-backup").update(last_status="failed",
                                                                 last_end_time=now - dt.timedelta(hours=3))
TaskStatus.objects.filter(task__task_id="report-after-backup").update(last_status="success")
backup = Task.objects.get(task_id="nightly-backup")
backfill = start_backfill(backup, start=now - dt.timedelta(days=10), end=now - dt.timedelta(hours=1), concurrency=2,
                          actor="admin", via="cli")
for n, run in enumerate(TaskExecution.objects.filter(backfill=backfill).order_by("execution_id")):
    if n < 4:
        start = now - dt.timedelta(minutes=30 - 5 * n)
        TaskExecution.objects.filter(pk=run.pk).update(
            status="success" if n != 2 else "failed", worker="screenshots", start_time=start,
            end_time=start + dt.timedelta(seconds=95), duration=95.0, return_code=0 if n != 2 else 1)
    elif n < 6:
        TaskExecution.objects.filter(pk=run.pk).update(status="running", worker="screenshots",
                                                       start_time=now - dt.timedelta(seconds=40))
# Tags, and a day of history for the dashboard's timeline (older than each task's last run above).
for task_id, tags in (("test-task", ["demo"]), ("nightly-backup", ["db", "nightly"]),
                      ("report-after-backup", ["nightly", "reports"]), ("cleanup", ["housekeeping"])):
    Task.objects.filter(task_id=task_id).update(task_tags=tags)
for n, task in enumerate(Task.objects.exclude(task_id="test-task")):
    for k in range(1, 16):
        start = now - dt.timedelta(hours=2 + 1.5 * k, minutes=7 * n)
        status = "failed" if (k + n) %% 7 == 0 else ("skipped" if (k + n) %% 11 == 0 else "success")
        longest = 900 if task.task_id == "nightly-backup" else 120
        duration = 0.0 if status == "skipped" else rng.uniform(5, longest)
        TaskExecution.objects.create(task=task, status=status, trigger="schedule", attempt=1, start_time=start,
                                     end_time=start + dt.timedelta(seconds=duration), duration=duration,
                                     requested_by="scheduler")

log = resolve_log_path("logs/task_test-task.log", "test-task")
log.parent.mkdir(parents=True, exist_ok=True)
lines = []
for k in range(40):
    t = (timezone.localtime(now) - dt.timedelta(seconds=40 - k)).strftime("%%Y-%%m-%%d %%H:%%M:%%S,000")
    level = "ERROR" if k == 33 else ("WARNING" if k %% 13 == 5 else "INFO")
    message = {33: "上游服务返回 503，稍后重试", 5: "PARAM3 未设置，使用默认值"}.get(k, f"正在执行任务... 第 {k} 步")
    lines.append(f"{t} - test_task - {level} - {message}")
log.write_text("\n".join(lines) + "\n", encoding="utf-8")
print("seeded")
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the web server did not answer at {url}")


def run(args, env):
    subprocess.run([PY, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True)


def main():
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="screenshots-"))
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
        CONF_DIR=str(work / "conf"),
        LOGS_DIR=str(work / "logs"),
        TIME_ZONE=os.environ.get("TIME_ZONE", "Asia/Shanghai"),
        DJANGO_DEBUG="false",
    )
    server = None
    try:
        run(["migrate", "--noinput", "-v0"], env)
        run(["shell", "-c", SEED % {"password": PASSWORD}], env)
        port = free_port()
        server = subprocess.Popen(
            [PY, "-m", "waitress", "--host=127.0.0.1", f"--port={port}", "--threads=4", "scheduler_site.wsgi:application"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/login/")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # SCREENSHOTS_ONLY=calendars,graph photographs only those pages (both languages).
            chosen = tuple(filter(None, os.environ.get("SCREENSHOTS_ONLY", "").split(","))) or None
            shoot(browser, base, lang="en", only=chosen)
            if os.environ.get("SCREENSHOTS_ZH", "1") == "1":
                zh = ("list", "new", "view", "calendar", "backfill", "graph", "dashboard", "pauses")
                shoot(browser, base, lang="zh-hans", only=tuple(n for n in zh if chosen is None or n in chosen))
            browser.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    print(f"Screenshots written to {OUT}")


def shoot(browser, base, lang, only=None):
    """Log in with the browser's language set to `lang` and photograph each page."""
    suffix = "" if lang == "en" else f"-{lang}"
    locale = {"en": "en-US", "zh-hans": "zh-CN"}[lang]
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale=locale, device_scale_factor=1)
    page = context.new_page()
    page.goto(base + "/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(base + "/dashboard")  # the landing page after login

    def want(name):
        return only is None or name in only

    def save(name, full_page=True):
        path = OUT / f"{name}{suffix}.png"
        page.screenshot(path=str(path), full_page=full_page)
        print("wrote", path.relative_to(ROOT))

    if want("list"):
        page.goto(base + "/")
        save("list")
    if want("new"):
        page.goto(base + "/tasks/new")
        page.fill("#id_task_id", "weekly-report")
        page.fill("#id_task_name", "Weekly sales report" if lang == "en" else "每周销售报表")
        page.select_option(".cron-template", "weekly")
        page.select_option(".cron-weekday", "1")
        page.fill(".cron-time", "07:30")
        page.dispatch_event(".cron-time", "change")
        page.select_option("#id_task_exec", "tasks/test_task.py")
        page.fill(".kv-row:last-child .kv-key", "REPORT_FORMAT")
        page.fill(".kv-row:last-child .kv-value", "pdf")
        page.click(".kv-add")
        page.fill(".kv-row:last-child .kv-key", "RECIPIENTS")
        page.fill(".kv-row:last-child .kv-value", "sales@example.com")
        page.wait_for_selector(".cron-preview .cron-times li")
        page.click(".advanced-options > summary")
        page.fill("#id_task_timeout", "600")
        page.fill("#id_task_retry", "2")
        page.check("#id_notify_on_failure")
        page.fill("#id_notify_email", "sales-ops@example.com")
        save("new")
    if want("view"):
        page.goto(base + "/tasks/test-task/view")
        save("view")
    if want("logs"):
        page.goto(base + "/tasks/test-task/logs")
        page.wait_for_selector("#log-lines .log-line")
        page.fill("#log-search", "503")
        page.select_option("#log-level", "")
        page.wait_for_timeout(1200)
        page.fill("#log-search", "")
        page.wait_for_selector("#log-lines .log-line")
        page.wait_for_timeout(800)
        save("logs", full_page=False)
    if want("executions"):
        page.goto(base + "/tasks/test-task/executions")
        save("executions")
    if want("execution"):
        page.goto(base + "/tasks/test-task/executions?status=failed")
        page.click(".execution-table tbody tr:first-child a")
        page.wait_for_selector("#execution-output")
        save("execution")
    if want("admin"):
        page.goto(base + "/admin/tasks_app/task/")
        if page.locator("#result_list").count() == 0:
            page.goto(base + "/admin/")
        if page.locator("#toggle-nav-sidebar").is_visible():
            page.click("#toggle-nav-sidebar")  # the task list needs the width more than the app menu
        save("admin")
    if want("calendars"):
        page.goto(base + "/calendars")
        save("calendars")
    if want("calendar"):
        page.goto(base + "/calendars/ops-freeze?month=2025-10")
        save("calendar")
    if want("backfill"):
        page.goto(base + "/tasks/nightly-backup/executions")
        page.click("#backfill-panel summary")
        page.fill("#backfill-start", "2025-10-01")
        page.fill("#backfill-end", "2025-10-10")
        save("backfill")
    if want("graph"):
        page.goto(base + "/graph")
        save("graph")
    if want("dashboard"):
        page.goto(base + "/dashboard")
        save("dashboard")
    if want("bulk"):
        page.goto(base + "/")
        page.check('input.bulk-select[value="cleanup"]')
        page.check('input.bulk-select[value="nightly-backup"]')
        page.select_option("#bulk-action", "add_tag")
        page.fill("#bulk-tag", "weekend")
        save("bulk", full_page=False)
        page.click("#bulk-apply")
        page.wait_for_selector("#bulk-results")
        save("bulk-result")
    if want("pauses"):
        page.goto(base + "/pauses")
        page.fill("#id_tag", "nightly")
        page.fill("#id_reason", "database upgrade" if lang == "en" else "数据库升级")
        page.click("#pause-submit")
        page.wait_for_selector("#pause-banner")
        save("pauses")
        page.click("#pause-banner .resume-button")  # the next pages without the banner
        page.wait_for_selector("#no-pause")
    if want("list") and only is None:
        phone = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale,
                                    storage_state=context.storage_state(), is_mobile=True)
        mobile = phone.new_page()
        mobile.goto(base + "/")
        path = OUT / f"list-phone{suffix}.png"
        mobile.screenshot(path=str(path), full_page=True)
        print("wrote", path.relative_to(ROOT))
        phone.close()
    context.close()


if __name__ == "__main__":
    main()
