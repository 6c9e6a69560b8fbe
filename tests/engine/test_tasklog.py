"""tasklog.prepare before each run: the task log exists, private (0600), made with its folder when either is missing
(a task's first run, or after a clean-up), and never reached through a symlink."""
import os

import pytest

from tasks_app.engine import tasklog


def test_a_missing_log_and_folder_are_made_private_and_an_existing_log_is_kept_and_made_private(tmp_path):
    log = tmp_path / "logs" / "nested" / "task_a.log"
    made = tasklog.prepare(log, None)
    made.close()
    assert made.made is True
    assert os.stat(log).st_mode & 0o7777 == 0o600

    log.write_text("earlier line\n")
    os.chmod(log, 0o644)
    kept = tasklog.prepare(log, None)
    kept.close()
    assert kept.made is False
    assert log.read_text() == "earlier line\n" and os.stat(log).st_mode & 0o7777 == 0o600


def test_a_symlink_in_place_of_the_log_is_refused_and_its_target_left_alone(tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("not a log\n")
    os.chmod(target, 0o644)
    log = tmp_path / "task_b.log"
    log.symlink_to(target)
    with pytest.raises(OSError):
        tasklog.prepare(log, None)
    dangling = tmp_path / "task_c.log"
    dangling.symlink_to(tmp_path / "missing.txt")
    with pytest.raises(OSError):
        tasklog.prepare(dangling, None)
    assert not (tmp_path / "missing.txt").exists()
    assert target.read_text() == "not a log\n" and os.stat(target).st_mode & 0o7777 == 0o644
