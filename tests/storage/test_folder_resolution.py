"""The engine's folders are resolved once and remembered (a run's preparation asks for them at every run), but a
symlink on the way pointed elsewhere is seen at once: a task's log is still refused inside the engine's folders,
wherever they lead now."""
import pytest

from tasks_app.definition.paths import resolve_log_path
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
