"""The engine's lines in a task's log go through the descriptor its preparation opened (O_NOFOLLOW): a symlink put in
the log's place after the preparation is never followed, the descriptor is closed on every path, the lines are
logging's format, and a log two runs rotate together is rotated once."""
import logging
import os
import re

import pytest

from tasks_app.definition.paths import task_log_file
from tasks_app.engine import preparation, tasklog
from tasks_app.engine.runner import run_execution
from tasks_app.logs.setup import formatter

from .helpers import open_files

pytestmark = pytest.mark.django_db


def test_a_symlink_swapped_in_for_the_log_after_its_preparation_is_not_followed_by_the_runs_lines(
    make_execution, tmp_path
):
    execution = make_execution("exit_one.py", task_id="swapped")
    log_file = task_log_file(execution.task)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text("before\n")
    preparation.prepare_early(execution)  # as for a run held until its slot
    target = tmp_path / "elsewhere.txt"
    target.write_text("not a log\n")
    prepared = os.stat(log_file)
    os.rename(log_file, tmp_path / "moved.log")  # the prepared file, still the run's
    log_file.symlink_to(target)

    result = run_execution(execution)

    assert result.status == "failed" and result.return_code == 1
    assert target.read_text() == "not a log\n"
    moved = (tmp_path / "moved.log").read_text()
    assert os.stat(tmp_path / "moved.log").st_ino == prepared.st_ino
    assert f"Execution {execution.execution_id} starting:" in moved
    assert f"Execution {execution.execution_id} finished: failed (exit code 1)" in moved
    assert not any(path.startswith(str(tmp_path)) for path in open_files())


def test_a_run_prepared_ahead_and_discarded_holds_no_descriptor_of_its_log(make_execution):
    execution = make_execution("exit_one.py", task_id="discarded")
    log_file = task_log_file(execution.task)
    preparation.prepare_early(execution)
    assert str(log_file) in open_files()

    preparation.discard(execution)

    assert str(log_file) not in open_files()
    assert not log_file.exists()  # made by this preparation and left empty: removed


def test_a_run_that_cannot_prepare_its_log_writes_none_of_its_lines_through_a_symlink(make_execution, tmp_path):
    execution = make_execution("exit_one.py", task_id="linked")
    log_file = task_log_file(execution.task)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    target = tmp_path / "elsewhere.txt"
    target.write_text("not a log\n")
    log_file.symlink_to(target)

    result = run_execution(execution)

    assert result.status == "failed" and "cannot prepare the task log" in result.error_message
    assert target.read_text() == "not a log\n"


def test_the_engines_line_is_what_logging_would_write_for_it(tmp_path):
    path = tmp_path / "task_f.log"
    for _ in range(3):  # a second may turn between the two
        path.unlink(missing_ok=True)
        task_log = tasklog.prepare(path, None)
        record = logging.LogRecord("TaskExecutor", logging.INFO, __file__, 1, "Execution %s starting: %s",
                                   (7, "/tasks/a b.py"), None)
        task_log.info("Execution %s starting: %s", 7, "/tasks/a b.py")
        task_log.error("Execution %s could not start: %s", 7, "ünïcode")
        task_log.close()
        lines = path.read_text(encoding="utf-8").splitlines()
        if lines[0] == formatter().format(record):
            break
    assert lines[0] == formatter().format(record)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - ERROR - TaskExecutor - Execution 7 could not start: ünïcode",
                        lines[1])


def test_a_log_that_two_runs_fill_together_is_rotated_once(tmp_path, settings):
    settings.LOG_MAX_BYTES, settings.LOG_BACKUP_COUNT = 1024, 3
    path = tmp_path / "task_g.log"
    first, second = tasklog.prepare(path, None), tasklog.prepare(path, None)
    path.write_text("x" * 1000 + "\n")

    first.info("first run's line")
    second.info("second run's line")
    first.close()
    second.close()

    assert (tmp_path / "task_g.log.1").read_text() == "x" * 1000 + "\n"
    assert not (tmp_path / "task_g.log.2").exists()
    lines = path.read_text().splitlines()
    assert [line.split(" - ")[-1] for line in lines] == ["first run's line", "second run's line"]
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_log_without_backups_grows_past_its_limit(tmp_path, settings):
    settings.LOG_MAX_BYTES, settings.LOG_BACKUP_COUNT = 1024, 0
    path = tmp_path / "task_h.log"
    task_log = tasklog.prepare(path, None)
    for i in range(40):
        task_log.info("line %d %s", i, "y" * 40)
    task_log.close()
    assert len(path.read_text().splitlines()) == 40 and not (tmp_path / "task_h.log.1").exists()


def test_a_run_whose_script_is_missing_writes_its_line_and_leaves_the_logs_owner_and_mode_alone(make_execution):
    execution = make_execution("no_such_script.py", task_id="unfit")
    log_file = task_log_file(execution.task)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text("earlier\n")
    os.chmod(log_file, 0o640)

    result = run_execution(execution)

    assert result.status == "failed" and "no such file" in result.error_message
    assert "could not start" in log_file.read_text().splitlines()[1]
    assert os.stat(log_file).st_mode & 0o777 == 0o640
