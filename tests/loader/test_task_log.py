"""The task_log rule: only a `*.log` file inside LOGS_DIR, never one of the engine's own files nor another task's
log (the one it names or logs/task_<id>.log), checked against known tasks and across an imported file."""
import os
from pathlib import Path

import pytest
from django.conf import settings

from tasks_app.definition.loader import TaskFileError, TaskLoader
from tasks_app.definition.paths import task_log_file
from tasks_app.models import Task
from tasks_app.services.import_export import import_tasks

from .test_loader import NO_TASKS, refuse


@pytest.fixture
def mail_in_logs(settings):
    settings.EMAIL_FILE_PATH = str(Path(settings.LOGS_DIR) / "mail")


@pytest.mark.parametrize(
    "written, reason",
    [
        ("logs/notes.txt", "ends in .log"),
        ("logs/task_x.log.1", "ends in .log"),
        ("logs/.log", "ends in .log"),
        ("logs/task_x", "ends in .log"),
        ("logs/sys.log", "the engine's own log"),
        ("sys.log.3", "the engine's own log"),
        ("logs/run/worker.log", "the folder of the run journal"),
        ("run/x.log", "the folder of the run journal"),
        ("logs/executions/7/x.log", "the folder of captured outputs"),
        ("logs/mail/x.log", "the folder of e-mails"),
        ("../x.log", "not a relative path"),
        ("/tmp/x.log", "not a relative path"),
    ],
)
def test_it_refuses_a_log_that_is_not_a_dot_log_file_or_belongs_to_the_engine(
    tasks_dir, minimal, mail_in_logs, written, reason
):
    refuse(minimal(task_log=written), "task_log", f'task_log "{written}" is refused', reason)


def test_it_accepts_a_dot_log_file_in_the_logs_folder_or_a_subfolder(tasks_dir, minimal):
    for written in ("logs/nightly.log", "nightly.log", "logs/reports/nightly.log"):
        assert TaskLoader().clean(minimal(task_log=written), existing=NO_TASKS)["task_log"] == written


def test_it_refuses_a_symlink_to_the_engines_log_and_anything_but_a_regular_file(tasks_dir, minimal):
    logs = Path(settings.LOGS_DIR)
    (logs / "sys.log").write_text("")
    (logs / "alias.log").symlink_to(logs / "sys.log")
    (logs / "folder.log").mkdir()
    os.mkfifo(logs / "pipe.log")
    refuse(minimal(task_log="logs/alias.log"), "task_log", "the engine's own log")
    refuse(minimal(task_log="logs/folder.log"), "task_log", "it is a folder")
    refuse(minimal(task_log="logs/pipe.log"), "task_log", "not a regular file")


def test_it_refuses_the_default_log_of_another_known_task(tasks_dir, minimal):
    refuse(minimal("mine", task_log="logs/task_other.log"), "task_log",
           'task_log "logs/task_other.log" is refused: it is the log of task "other"', existing={"other": []})
    # Written another way, it is the same file.
    refuse(minimal("mine", task_log="task_other.log"), "task_log", 'the log of task "other"', existing={"other": []})


def test_a_task_may_name_its_own_default_log(tasks_dir, minimal):
    cleaned = TaskLoader().clean(minimal("mine", task_log="logs/task_mine.log"), existing={"other": []})
    assert cleaned["task_log"] == "logs/task_mine.log"


@pytest.mark.django_db
def test_it_refuses_a_log_another_task_in_the_database_names(tasks_dir, minimal):
    Task.objects.create(task_id="first", task_name="f", task_exec="tasks/test_task.py", task_schedule="@daily",
                        task_log="logs/shared.log")
    refuse(minimal("second", task_log="shared.log"), "task_log", 'task_log "shared.log" is refused',
           'the log of task "first"', existing=None)
    refuse(minimal("second", task_log="logs/task_first.log"), "task_log", 'the log of task "first"', existing=None)
    assert TaskLoader().clean(minimal("second", task_log="logs/own.log"))["task_log"] == "logs/own.log"


@pytest.mark.django_db
def test_editing_a_task_keeps_the_log_it_names_itself(tasks_dir, minimal):
    Task.objects.create(task_id="first", task_name="f", task_exec="tasks/test_task.py", task_schedule="@daily",
                        task_log="logs/shared.log")
    cleaned = TaskLoader().clean(minimal("first", task_log="logs/shared.log"), instance_id="first")
    assert cleaned["task_log"] == "logs/shared.log"


@pytest.mark.django_db
def test_a_task_keeps_its_default_log_even_when_an_older_row_names_it(tasks_dir, minimal):
    # Saved before the rule: "squatter" writes first's default log. first itself is not the one refused.
    Task.objects.create(task_id="squatter", task_name="s", task_exec="tasks/test_task.py", task_schedule="@daily",
                        task_log="logs/task_first.log")
    assert TaskLoader().clean(minimal("first"))["task_log"] == "logs/task_first.log"


def test_a_file_whose_tasks_share_a_log_is_refused_whole_naming_each(tasks_dir, minimal):
    items = [minimal("a", task_log="logs/shared.log"), minimal("b", task_log="shared.log"),
             minimal("c", task_log="logs/task_a.log"), minimal("d")]
    with pytest.raises(TaskFileError) as caught:
        TaskLoader().clean_many(items, existing=NO_TASKS)
    refused = {(task_id, field): message for task_id, field, message in caught.value.problems}
    assert set(refused) == {("a", "task_log"), ("b", "task_log"), ("c", "task_log")}
    assert 'the log of task "b"' in refused[("a", "task_log")]
    assert 'the log of task "a"' in refused[("b", "task_log")] and 'the log of task "a"' in refused[("c", "task_log")]


@pytest.mark.django_db
def test_an_import_is_checked_against_the_logs_of_the_database_unless_it_replaces_them(tasks_dir, minimal):
    Task.objects.create(task_id="kept", task_name="k", task_exec="tasks/test_task.py", task_schedule="@daily",
                        task_log="logs/kept.log")
    with pytest.raises(TaskFileError) as caught:
        import_tasks({"tasks": [minimal("new", task_log="logs/kept.log")]}, actor="test")
    assert caught.value.problems == [("new", "task_log", 'task_log "logs/kept.log" is refused: it is the log of '
                                                          'task "kept". Give a path inside the logs folder, such as '
                                                          '"logs/task_my-task.log".')]
    assert not Task.objects.filter(task_id="new").exists()
    result = import_tasks({"tasks": [minimal("new", task_log="logs/kept.log")]}, replace=True, actor="test")
    assert result.created == ["new"] and result.deleted == ["kept"]


@pytest.mark.django_db
def test_a_row_saved_before_the_rule_falls_back_to_its_default_log(tasks_dir):
    task = Task.objects.create(task_id="old", task_name="o", task_exec="tasks/test_task.py", task_schedule="@daily",
                               task_log="logs/old.txt")
    assert task_log_file(task) == Path(settings.LOGS_DIR).resolve() / "task_old.log"
