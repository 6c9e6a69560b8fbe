"""logs/sys.log holds the engine's key events (start-up, import, configuration changes, stop) in the design
document's format, written by real processes the way an operator runs them."""
import os
import re
import subprocess
import sys

from django.conf import settings

from tests.engine.conftest import child_database_url, runscheduler  # noqa: F401  (fixture)

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - (DEBUG|INFO|WARNING|ERROR|CRITICAL) - "
    r"(SchedulerEngine|TaskLoader|Scheduler|TaskExecutor|APIInterface|WebInterface) - \S.*$"
)


def manage(*args):
    env = {**os.environ, "DATABASE_URL": child_database_url()}
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_sys_log_records_start_up_import_changes_and_stop_in_the_documents_format(runscheduler):
    manage("import_tasks", str(settings.BASE_DIR / "conf" / "tasks.json"))
    manage("shell", "-c", (
        "from tasks_app.models import Task; from tasks_app.services.tasks import update_task; "
        "update_task(Task.objects.get(task_id='test-task'), {'task_retry': 1}, actor='ops', via='cli', partial=True)"
    ))
    scheduler = runscheduler()
    assert scheduler.stop() == 0

    lines = (settings.LOGS_DIR / "sys.log").read_text(encoding="utf-8").splitlines()
    assert lines and all(LINE.match(line) for line in lines), [line for line in lines if not LINE.match(line)]
    text = "\n".join(lines)
    assert re.search(r"- INFO - TaskLoader - Imported 1 task\(s\) from .*tasks\.json", text)
    assert re.search(r"- INFO - SchedulerEngine - Task test-task updated by ops via cli: .*task_retry", text)
    assert re.search(r"- INFO - SchedulerEngine - Scheduler engine started", text)
    assert re.search(r"- INFO - SchedulerEngine - Scheduler engine stopped", text)
    # Chinese text in the log is written as UTF-8, not escaped.
    assert "\\u" not in text
