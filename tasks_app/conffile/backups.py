"""Timestamped copies of conf/tasks.json taken before every rewrite, and their pruning (restoring one is a
service: services/import_export.restore_backup).

Names are `tasks-YYYYMMDDTHHMMSS.ffffffZ.json` (UTC); the time in the name, not the file's mtime,
decides the order, so copying the folder elsewhere keeps the history intact.
"""
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from django.conf import settings

from . import jsonfile

log = logging.getLogger("SchedulerEngine")

NAME = re.compile(r"^tasks-(\d{8}T\d{6}\.\d{6})Z\.json$")
STAMP = "%Y%m%dT%H%M%S.%f"


class BackupNotFound(ValueError):
    def __init__(self, name):
        self.name = name
        super().__init__(f"backup: no backup named {name!r} (see restore_tasks --list)")


@dataclass(frozen=True)
class Backup:
    name: str
    time: datetime
    size: int
    task_count: int | None  # None if the file is not a readable tasks document

    @property
    def path(self) -> Path:
        return Path(settings.BACKUPS_DIR) / self.name


def tasks_file() -> Path:
    return Path(settings.CONF_DIR) / "tasks.json"


def backup_name(moment: datetime) -> str:
    return f"tasks-{moment.astimezone(timezone.utc).strftime(STAMP)}Z.json"


def _time_of(name):
    match = NAME.match(name)
    if not match:
        return None
    return datetime.strptime(match.group(1), STAMP).replace(tzinfo=timezone.utc)


def _entries():
    """(time, name) of every backup, newest first."""
    folder = Path(settings.BACKUPS_DIR)
    if not folder.is_dir():
        return []
    found = [(_time_of(entry.name), entry.name) for entry in os.scandir(folder) if entry.is_file()]
    return sorted(((t, n) for t, n in found if t is not None), reverse=True)


def backup_file(path=None, *, now: datetime | None = None) -> Path | None:
    """Copy `path` (default conf/tasks.json) into BACKUPS_DIR before it is rewritten.

    Returns the backup's path, or None if there is no file to keep. If the newest backup already holds
    the same bytes, that one is returned instead of a duplicate (a restore backs up, then mirrors).
    """
    path = Path(path) if path else tasks_file()
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return None
    folder = Path(settings.BACKUPS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    with jsonfile.locked(folder / "backups"):
        entries = _entries()
        if entries:
            newest = folder / entries[0][1]
            if newest.read_bytes() == content:
                return newest
        moment = now or datetime.now(timezone.utc)
        # A frozen clock (tests) or a fast second writer could reuse a name: move on by a microsecond.
        taken = {name for _, name in entries}
        while backup_name(moment) in taken or (folder / backup_name(moment)).exists():
            moment += timedelta(microseconds=1)
        target = folder / backup_name(moment)
        jsonfile.write_bytes_atomic(target, content)
    return target


def prune(now: datetime | None = None) -> list[str]:
    """Keep the newest BACKUPS_KEEP backups plus the newest of each UTC day of the last BACKUPS_DAILY_DAYS
    days (today included); delete the rest. Returns the names deleted."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    folder = Path(settings.BACKUPS_DIR)
    with jsonfile.locked(folder / "backups"):
        entries = _entries()
        keep = {name for _, name in entries[: settings.BACKUPS_KEEP]}
        first_day = now.date() - timedelta(days=settings.BACKUPS_DAILY_DAYS - 1)
        days_seen = set()
        for moment, name in entries:  # newest first, so the first one met on a day is that day's newest
            day = moment.date()
            if settings.BACKUPS_DAILY_DAYS > 0 and first_day <= day <= now.date() and day not in days_seen:
                days_seen.add(day)
                keep.add(name)
        deleted = []
        for _, name in entries:
            if name not in keep:
                (folder / name).unlink(missing_ok=True)
                deleted.append(name)
    if deleted:
        log.info("Pruned %d old backup(s) of conf/tasks.json", len(deleted))
    return deleted


def list_backups() -> list[Backup]:
    """Every backup, newest first, with its size and how many tasks it holds."""
    folder = Path(settings.BACKUPS_DIR)
    found = []
    for moment, name in _entries():
        path = folder / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # pruned meanwhile
            continue
        try:
            tasks = json.loads(path.read_text(encoding="utf-8")).get("tasks")
            count = len(tasks) if isinstance(tasks, list) else None
        except (OSError, ValueError, AttributeError):
            count = None
        found.append(Backup(name, moment, size, count))
    return found


def find_backup(name: str) -> Backup:
    """The backup called `name` (its task_count is not read). Only names of the backups' own pattern are
    accepted, so a name can never reach outside BACKUPS_DIR (no '..', no absolute paths, no other files)."""
    moment = _time_of(name) if isinstance(name, str) else None
    try:
        found = moment is not None and (Path(settings.BACKUPS_DIR) / name).is_file()
        size = (Path(settings.BACKUPS_DIR) / name).stat().st_size if found else None
    except OSError:  # pruned meanwhile
        size = None
    if size is None:
        raise BackupNotFound(name)
    return Backup(name, moment, size, None)
