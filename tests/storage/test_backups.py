"""Backups of conf/tasks.json: taken before each rewrite, pruned by count and by day, restored on demand."""
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command

from tasks_app.conffile import backups
from tasks_app.conffile.mirror import mirror_tasks_file
from tasks_app.models import Task
from tasks_app.services import import_export
from tasks_app.services import tasks as task_services

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)


def conf_file():
    return settings.CONF_DIR / "tasks.json"


def make_backup(moment, content=None):
    folder = settings.BACKUPS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / backups.backup_name(moment)
    path.write_text(content or json.dumps({"tasks": [], "at": moment.isoformat()}), encoding="utf-8")
    return path.name


def names():
    return sorted(p.name for p in settings.BACKUPS_DIR.glob("tasks-*.json"))


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def imported(shipped_file, settings):
    """The shipped example in the database and mirrored to this test's conf/tasks.json (no backup yet)."""
    settings.TASKS_DIR = shipped_file.parents[1] / "tasks"
    import_export.import_tasks(shipped_file, actor="t", via="import")
    assert names() == []
    return Task.objects.get(task_id="test-task")


def rename(task, new_name, capture):
    with capture(execute=True):
        task_services.update_task(task, {"task_name": new_name}, actor="bob", via="admin", partial=True)


# ---- backup_file --------------------------------------------------------------------------------------------

def test_there_is_nothing_to_back_up_before_the_first_file():
    assert backups.backup_file() is None


def test_a_backup_is_a_byte_copy_named_after_the_utc_time_with_microseconds(imported):
    shanghai = timezone(timedelta(hours=8))
    path = backups.backup_file(now=datetime(2025, 3, 10, 20, 1, 2, 345678, tzinfo=shanghai))
    assert path.name == "tasks-20250310T120102.345678Z.json"
    assert path.read_bytes() == conf_file().read_bytes()


def test_backing_up_unchanged_content_twice_keeps_one_copy(imported):
    first = backups.backup_file(now=NOW)
    assert backups.backup_file(now=NOW + timedelta(hours=1)) == first
    assert names() == [first.name]


def test_two_backups_in_the_same_microsecond_get_different_names(imported):
    first = backups.backup_file(now=NOW)
    conf_file().write_text('{"tasks": []}\n', encoding="utf-8")
    second = backups.backup_file(now=NOW)
    assert first != second and len(names()) == 2


# ---- the mirror ---------------------------------------------------------------------------------------------

def test_a_change_rewrites_the_file_and_keeps_the_previous_version(imported, shipped_file, sys_log,
                                                                    django_capture_on_commit_callbacks):
    with time_machine.travel(NOW, tick=False):
        rename(imported, "新名字", django_capture_on_commit_callbacks)
    assert json.loads(conf_file().read_text(encoding="utf-8"))["tasks"][0]["task_name"] == "新名字"
    assert "新名字" in conf_file().read_text(encoding="utf-8")
    assert names() == ["tasks-20250310T120000.000000Z.json"]
    assert (settings.BACKUPS_DIR / names()[0]).read_bytes() == shipped_file.read_bytes()
    assert any(" - INFO - SchedulerEngine - Wrote " in line and "by bob via admin; previous version kept as "
               "tasks-20250310T120000.000000Z.json" in line for line in sys_log())


def test_the_mirror_writes_nothing_when_the_content_is_the_same(imported):
    before = conf_file().stat().st_mtime_ns
    assert mirror_tasks_file("alice", "cli") is False
    assert names() == [] and conf_file().stat().st_mtime_ns == before


def test_a_hand_edited_file_is_backed_up_before_the_mirror_overwrites_it(imported, shipped_file):
    conf_file().write_text('{"tasks": []}  \n', encoding="utf-8")
    assert mirror_tasks_file("alice", "cli") is True
    # Same data; the bytes may differ in task_env's key order, which on PostgreSQL only the old file knew.
    assert json.loads(conf_file().read_bytes()) == json.loads(shipped_file.read_bytes())
    assert (settings.BACKUPS_DIR / names()[0]).read_text() == '{"tasks": []}  \n'


def test_the_mirror_prunes_old_backups(imported, settings, django_capture_on_commit_callbacks):
    settings.BACKUPS_KEEP, settings.BACKUPS_DAILY_DAYS = 2, 0
    for i in range(4):
        rename(imported, f"名字 {i}", django_capture_on_commit_callbacks)
    assert len(names()) == 2


# ---- prune --------------------------------------------------------------------------------------------------

def test_prune_keeps_the_newest_ones_and_the_newest_of_each_recent_day(settings):
    settings.BACKUPS_KEEP, settings.BACKUPS_DAILY_DAYS = 3, 4
    made = {}
    for day in range(1, 11):
        for hour in (1, 9):
            made[(day, hour)] = make_backup(datetime(2025, 3, day, hour, tzinfo=timezone.utc))
    deleted = backups.prune(now=NOW)
    kept = {made[(10, 9)], made[(10, 1)], made[(9, 9)],  # the newest three
            made[(8, 9)], made[(7, 9)]}                   # plus the newest of each of the last four days
    assert set(names()) == kept
    assert len(deleted) == 20 - 5


def test_prune_with_the_default_settings_keeps_50_plus_one_a_day_for_30_days():
    assert (settings.BACKUPS_KEEP, settings.BACKUPS_DAILY_DAYS) == (50, 30)
    # Two a day for 40 days: the newest 50 cover 25 days; days 26 to 30 keep one each.
    for i in range(80):
        make_backup(NOW - timedelta(hours=12 * i))
    backups.prune(now=NOW)
    kept = [backups._time_of(n) for n in names()]
    assert len(kept) == 55
    assert min(kept).date() == (NOW - timedelta(days=29)).date()


def test_prune_ignores_other_files_in_the_folder(settings):
    settings.BACKUPS_KEEP, settings.BACKUPS_DAILY_DAYS = 1, 0
    make_backup(NOW)
    make_backup(NOW - timedelta(days=1))
    (settings.BACKUPS_DIR / "notes.txt").write_text("mine")
    backups.prune(now=NOW)
    assert (settings.BACKUPS_DIR / "notes.txt").exists() and len(names()) == 1


# ---- list and restore ---------------------------------------------------------------------------------------

def test_list_shows_backups_newest_first_with_size_and_task_count():
    older = make_backup(NOW - timedelta(days=1), '{"tasks": [{}, {}]}')
    newer = make_backup(NOW, "not json")
    listed = backups.list_backups()
    assert [(b.name, b.time, b.task_count) for b in listed] == [
        (newer, NOW, None), (older, NOW - timedelta(days=1), 2),
    ]
    assert listed[1].size == len('{"tasks": [{}, {}]}')
    out = run("restore_tasks", "--list")
    assert out.index(newer) < out.index(older)
    assert "2025-03-09 12:00:00 UTC" in out and "2 task(s)" in out


def test_restore_brings_a_previous_version_back_and_backs_up_the_current_first(
    imported, shipped_file, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False):
        rename(imported, "第二版", django_capture_on_commit_callbacks)
    (original,) = names()
    second_version = conf_file().read_bytes()
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        out = run("restore_tasks", original)
    assert "updated: test-task" in out and f"Restored {original}" in out
    assert Task.objects.get(task_id="test-task").task_name == "测试任务"
    assert conf_file().read_bytes() == shipped_file.read_bytes()
    # The version that was current before the restore is the newest backup now.
    assert names() == [original, "tasks-20250310T130000.000000Z.json"]
    assert (settings.BACKUPS_DIR / names()[1]).read_bytes() == second_version


def test_restore_replaces_tasks_added_since_the_backup(imported, tmp_path):
    backup = backups.backup_file(now=NOW)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"tasks": [{"task_id": "later", "task_name": "后来的", "task_exec": "test_task.py",
                                            "task_schedule": "@hourly"}]}), encoding="utf-8")
    import_export.import_tasks(extra, actor="t", via="import")
    result = import_export.restore_backup(backup.name, actor="alice")
    assert result.deleted == ["later"]
    assert list(Task.objects.values_list("task_id", flat=True)) == ["test-task"]


@pytest.mark.parametrize("name", ["../tasks.json", "tasks.json", "/etc/passwd", "backups.lock", "",
                                  "tasks-20250310T120000.000000Z.json/../../tasks.json"])
def test_restore_accepts_only_names_from_the_list(imported, name):
    backups.backup_file(now=NOW)
    with pytest.raises(backups.BackupNotFound):
        import_export.restore_backup(name, actor="mallory")
    if name:
        with pytest.raises(CommandError, match="no backup named"):
            run("restore_tasks", name)


def test_an_invalid_backup_is_refused_and_nothing_changes(imported):
    bad = make_backup(NOW, json.dumps({"tasks": [{"task_id": "x", "task_schedule": "@hourly"}]}))
    before = (conf_file().read_bytes(), names(), list(Task.objects.values_list("task_id", "task_name")))
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("restore_tasks", bad, stdout=io.StringIO(), stderr=err)
    assert "x: task_name: " in err.getvalue() and "x: task_exec: " in err.getvalue()
    assert (conf_file().read_bytes(), names(), list(Task.objects.values_list("task_id", "task_name"))) == before


def test_restore_without_a_name_asks_for_one():
    with pytest.raises(CommandError, match="--list"):
        run("restore_tasks")
