"""How conf/tasks.json keeps up with edits that come together: a rendering made after a change was committed
serves that change too (no second write), a web process's writer thread writes for its requests and is complete
once stopped, and a file left behind by a killed web process is caught up at the next start (not one edited by
hand)."""
import json
import threading

import pytest
from django.conf import settings

from tasks_app.conffile import background, backups
from tasks_app.conffile.mirror import catch_up, mirror_tasks_file
from tasks_app.models import ConfigVersion, Task
from tasks_app.services import tasks as task_services
from tests.api.conftest import simple_task

pytestmark = pytest.mark.django_db(transaction=True)


def conf_file():
    return settings.CONF_DIR / "tasks.json"


def described(task_id):
    tasks = json.loads(conf_file().read_text(encoding="utf-8"))["tasks"]
    return next(t["task_desc"] for t in tasks if t["task_id"] == task_id)


@pytest.fixture
def task():
    return task_services.create_task(simple_task("t1"), actor="ada", via="api")


def test_a_change_already_in_a_later_rendering_is_not_written_again(task):
    Task.objects.filter(pk=task.pk).update(task_desc="changed")
    ConfigVersion.bump()
    assert mirror_tasks_file(after_change=True)  # renders the change
    count = len(backups.list_backups())

    assert not mirror_tasks_file(after_change=True)  # a second caller for the same change: nothing to do
    assert len(backups.list_backups()) == count and described("t1") == "changed"


def test_a_file_written_by_someone_else_is_rendered_again_even_for_an_old_change(task):
    mirror_tasks_file(after_change=True)
    conf_file().write_text('{"tasks": []}\n', encoding="utf-8")  # by hand, or a restore

    assert mirror_tasks_file(after_change=True)
    assert described("t1") == task.task_desc


def test_a_database_made_anew_is_not_mistaken_for_an_older_state(task):
    mirror_tasks_file(after_change=True)
    marker = conf_file().with_name(".tasks.json.mirrored")
    mark = json.loads(marker.read_text())
    marker.write_text(json.dumps({**mark, "version": mark["version"] + 1000, "changed_at": "2000-01-01T00:00:00"}))
    Task.objects.filter(pk=task.pk).update(task_desc="in the new database")
    ConfigVersion.bump()

    assert mirror_tasks_file(after_change=True)
    assert described("t1") == "in the new database"


def test_the_writer_thread_writes_every_edit_and_has_written_the_last_one_when_stopped(task):
    writer = background.start()
    try:
        threads = [threading.Thread(target=task_services.update_task,
                                    args=(Task.objects.get(pk=task.pk), {"task_desc": f"edit {n}"}),
                                    kwargs={"actor": "ada", "via": "api", "partial": True}) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        last = Task.objects.get(pk=task.pk).task_desc
    finally:
        background.stop()
    assert not writer._thread.is_alive()
    assert described("t1") == last
    # Later edits, without a writer thread, are written by their caller again.
    task_services.update_task(Task.objects.get(pk=task.pk), {"task_desc": "after"}, actor="ada", via="api",
                              partial=True)
    assert described("t1") == "after"


def test_a_web_process_starting_after_one_was_killed_catches_the_file_up(task):
    mirror_tasks_file(after_change=True)
    Task.objects.filter(pk=task.pk).update(task_desc="never written")  # the killed process's edit
    ConfigVersion.bump()

    assert catch_up()
    assert described("t1") == "never written"
    assert not catch_up()  # nothing left to do


def test_catching_up_leaves_a_file_edited_by_hand_alone(task):
    mirror_tasks_file(after_change=True)
    edited = conf_file().read_text(encoding="utf-8").replace('"task_desc": ""', '"task_desc": "by hand"')
    assert "by hand" in edited
    conf_file().write_text(edited, encoding="utf-8")
    ConfigVersion.bump()

    assert not catch_up()
    assert conf_file().read_text(encoding="utf-8") == edited


def test_the_writer_thread_writes_the_first_edit_at_once_and_the_edits_of_its_spacing_together(task, monkeypatch):
    monkeypatch.setattr(background, "SPACING", 3600.0)  # longer than the test: only stop() ends the wait
    writer = background.start()
    try:
        first_written = threading.Event()
        monkeypatch.setattr(background, "mirror_tasks_file", _signalling(background.mirror_tasks_file, first_written))
        edit(task, "first")
        assert first_written.wait(10)  # after a quiet spell, at once
        assert described("t1") == "first"
        count = len(backups.list_backups())
        for n in range(3):
            edit(task, f"later {n}")
        assert described("t1") == "first"  # held back for the spacing ...
    finally:
        background.stop()  # ... but written, all three in one rendering, when the process stops
    assert not writer._thread.is_alive()
    assert described("t1") == "later 2"
    assert len(backups.list_backups()) == count + 1


def edit(task, description):
    task_services.update_task(Task.objects.get(pk=task.pk), {"task_desc": description}, actor="ada", via="api",
                              partial=True)


def _signalling(mirror, written):
    def mirror_and_signal(*args, **kwargs):
        result = mirror(*args, **kwargs)
        written.set()
        return result
    return mirror_and_signal
