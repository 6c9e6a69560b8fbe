"""The engine's folders and a task's log are resolved once and remembered (a run's preparation asks for them at every
run), but a symlink on the way pointed elsewhere is seen at once: a task's log is still refused outside the logs
folder and inside the engine's folders, wherever they lead now."""
from types import SimpleNamespace

import pytest

from tasks_app.definition.paths import resolve_log_path, resolve_log_path_again, task_log_file
from tasks_app.engine import tasklog
from tasks_app.private_files import real_folder


def test_a_configured_folder_is_resolved_again_when_its_symlink_points_elsewhere(tmp_path):
    first, second, link = tmp_path / "first", tmp_path / "second", tmp_path / "link"
    first.mkdir()
    second.mkdir()
    link.symlink_to(first)
    assert real_folder(link) == first.resolve()
    assert real_folder(str(link)) == first.resolve()

    link.unlink()
    link.symlink_to(second)

    assert real_folder(link) == second.resolve()


def test_a_folder_that_does_not_exist_yet_is_resolved_each_time(tmp_path):
    later = tmp_path / "later"
    assert real_folder(later) == later.resolve()
    later.mkdir()
    assert real_folder(later) == later.resolve()


def test_a_task_log_inside_the_outputs_folder_is_refused_after_the_folder_moved(tmp_path, settings):
    logs = tmp_path / "logs"
    (logs / "a").mkdir(parents=True)
    (logs / "b").mkdir()
    outputs = tmp_path / "outputs"
    outputs.symlink_to(logs / "a")
    settings.LOGS_DIR, settings.EXECUTION_OUTPUT_DIR = logs, outputs
    assert resolve_log_path("logs/b/x.log", logs_dir=logs) == (logs / "b" / "x.log").resolve()
    with pytest.raises(ValueError, match="captured outputs"):
        resolve_log_path("logs/a/x.log", logs_dir=logs)

    outputs.unlink()
    outputs.symlink_to(logs / "b")

    assert resolve_log_path("logs/a/x.log", logs_dir=logs) == (logs / "a" / "x.log").resolve()
    with pytest.raises(ValueError, match="captured outputs"):
        resolve_log_path("logs/b/x.log", logs_dir=logs)


def test_a_missing_folder_is_resolved_again_once_a_symlink_is_made_in_its_place(tmp_path):
    missing, elsewhere = tmp_path / "mail", tmp_path / "elsewhere"
    assert real_folder(missing) == missing
    assert real_folder(missing) == missing  # remembered

    missing.symlink_to(elsewhere / "not-yet")  # dangling: os.stat of it still fails

    assert real_folder(missing) == (elsewhere / "not-yet").resolve()
    missing.unlink()
    assert real_folder(missing) == missing


def test_a_missing_folder_is_resolved_again_when_a_folder_above_it_points_elsewhere(tmp_path):
    first, second, link = tmp_path / "first", tmp_path / "second", tmp_path / "link"
    first.mkdir()
    second.mkdir()
    link.symlink_to(first)
    assert real_folder(link / "mail") == first / "mail"

    link.unlink()
    link.symlink_to(second)

    assert real_folder(link / "mail") == second / "mail"


def test_a_remembered_task_log_swapped_for_a_symlink_pointing_outside_is_refused(tmp_path, settings):
    logs, outside = tmp_path / "task-logs", tmp_path / "outside"
    logs.mkdir()
    outside.mkdir()
    (outside / "x.log").write_text("not the task's\n")
    settings.LOGS_DIR = logs
    log = logs / "x.log"
    log.write_text("")
    assert resolve_log_path_again("logs/x.log", "t") == log.resolve()
    assert resolve_log_path_again("logs/x.log", "t") == log.resolve()  # remembered

    log.unlink()
    log.symlink_to(outside / "x.log")

    with pytest.raises(ValueError, match="outside the logs folder"):
        resolve_log_path_again("logs/x.log", "t")
    task = SimpleNamespace(task_log="logs/x.log", task_id="t")
    assert task_log_file(task) == logs.resolve() / "task_t.log"  # the default instead, as for any refused log


def test_a_remembered_default_log_swapped_for_a_symlink_is_refused_by_the_run(tmp_path, settings):
    logs, outside = tmp_path / "task-logs", tmp_path / "outside"
    logs.mkdir()
    outside.mkdir()
    target = outside / "secret.log"
    target.write_text("left alone\n")
    settings.LOGS_DIR = logs
    task = SimpleNamespace(task_log="", task_id="t")
    default = logs.resolve() / "task_t.log"
    default.write_text("")
    assert task_log_file(task) == default
    prepared = tasklog.prepare(task_log_file(task), None)
    prepared.close()
    assert prepared.made is False

    default.unlink()
    default.symlink_to(target)

    path = task_log_file(task)
    assert path == default  # refused as a log (it leads outside), so the default's own name, a symlink
    with pytest.raises(OSError):
        tasklog.prepare(path, None)  # O_NOFOLLOW
    assert target.read_text() == "left alone\n" and oct(target.stat().st_mode & 0o777) != "0o600"


def test_a_remembered_task_log_is_refused_once_an_engine_folder_leads_to_it(tmp_path, settings):
    logs = tmp_path / "logs"
    (logs / "a").mkdir(parents=True)
    (logs / "b").mkdir()
    (logs / "a" / "x.log").write_text("")
    outputs = tmp_path / "outputs"
    outputs.symlink_to(logs / "b")
    settings.LOGS_DIR, settings.EXECUTION_OUTPUT_DIR = logs, outputs
    assert resolve_log_path_again("logs/a/x.log") == (logs / "a" / "x.log").resolve()

    outputs.unlink()
    outputs.symlink_to(logs / "a")

    with pytest.raises(ValueError, match="captured outputs"):
        resolve_log_path_again("logs/a/x.log")


def test_a_remembered_task_log_replaced_by_another_file_is_checked_again(tmp_path, settings):
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    settings.LOGS_DIR = logs
    (logs / "sub" / "x.log").write_text("")
    assert resolve_log_path_again("logs/sub/x.log") == (logs / "sub" / "x.log").resolve()

    (logs / "sub" / "x.log").unlink()
    (logs / "sub" / "x.log").mkdir()

    with pytest.raises(ValueError, match="folder"):
        resolve_log_path_again("logs/sub/x.log")


def test_a_remembered_task_log_whose_folder_is_moved_out_and_linked_back_is_refused(tmp_path, settings):
    """The folder keeps its inode when moved, and so does the log in it: only the symlink in its place tells."""
    logs, outside = tmp_path / "task-logs", tmp_path / "outside"
    (logs / "sub").mkdir(parents=True)
    outside.mkdir()
    settings.LOGS_DIR = logs
    (logs / "sub" / "x.log").write_text("")
    assert resolve_log_path_again("logs/sub/x.log") == (logs / "sub" / "x.log").resolve()

    (logs / "sub").rename(outside / "sub")
    (logs / "sub").symlink_to(outside / "sub")

    with pytest.raises(ValueError, match="outside the logs folder"):
        resolve_log_path_again("logs/sub/x.log")


def test_a_remembered_task_log_reached_through_a_symlink_follows_it_when_it_is_pointed_elsewhere(tmp_path, settings):
    logs = tmp_path / "task-logs"
    logs.mkdir()
    settings.LOGS_DIR = logs
    (logs / "a.log").write_text("")
    (logs / "b.log").write_text("")
    (logs / "link.log").symlink_to(logs / "a.log")
    assert resolve_log_path_again("logs/link.log") == (logs / "a.log").resolve()

    (logs / "link.log").unlink()
    (logs / "link.log").symlink_to(logs / "b.log")

    assert resolve_log_path_again("logs/link.log") == (logs / "b.log").resolve()
