"""Rotating the secrets key: every stored secret sealed anew under the newest key (the database, conf/tasks.json
and its backups), then the older keys retired. manage.py rotate_secrets_key is the way in; see the README."""
import json
import logging
from dataclasses import dataclass, field

from django.db import transaction

from tasks_app.audit import versions
from tasks_app.conffile import backups, jsonfile
from tasks_app.conffile.backups import tasks_file
from tasks_app.conffile.mirror import render_tasks_text
from tasks_app.models import Channel, ConfigVersion, Task
from tasks_app.secrets import keys

log = logging.getLogger("SchedulerEngine")


@dataclass
class Resealed:
    """What a pass over everything found: secrets sealed anew, secrets no key opens (left as they are) and,
    after the pass, where something still needs an older key."""

    secrets: int = 0
    lost: dict = field(default_factory=dict)  # where -> how many secrets no key opens
    places: list = field(default_factory=list)  # the database, conf/tasks.json, each backup rewritten

    def add(self, where, done, lost):
        self.secrets += done
        if lost:
            self.lost[where] = self.lost.get(where, 0) + lost


def reseal_everything(*, actor: str, via: str = "cli") -> Resealed:
    """Seal every stored secret anew under the newest key: each task row, conf/tasks.json, each backup."""
    report = Resealed()
    with transaction.atomic():
        for task in Task.objects.select_for_update().order_by("pk"):
            stored = {"task_env": task.task_env, "task_notify": task.task_notify}
            fresh, done, lost = keys.reseal_task(stored)
            report.add(f"task {task.task_id}", done, lost)
            if done:
                # update(): no updated_at, no change of the configuration, only of how it is sealed.
                Task.objects.filter(pk=task.pk).update(**fresh)
        ConfigVersion.bump()  # the scheduler reads the tasks again, with the new tokens
        _reseal_versions(report)
        _reseal_channels(report)
    report.places.append("the database")
    _rewrite_tasks_file(report)
    for backup in backups.list_backups():
        _reseal_file(backup.path, backup.name, report)
    log.info("Secrets sealed anew under the newest key by %s via %s: %d secret(s) in %s%s", actor, via,
             report.secrets, ", ".join(report.places) or "nothing",
             f"; {sum(report.lost.values())} no key opens (left as they are)" if report.lost else "")
    return report


def _reseal_versions(report):
    """The versions of the audit trail hold each configuration as stored: their secrets are sealed anew too, so
    restoring an old version still works once the older key is retired."""
    for entry in versions.snapshots():
        fresh, done, lost = keys.reseal_task(entry.serialized_data)
        report.add("the audit trail's versions", done, lost)
        if done:
            type(entry).objects.filter(pk=entry.pk).update(serialized_data=fresh)


def _reseal_channels(report):
    """Each notification channel's Apprise URL."""
    for channel in Channel.objects.select_for_update().order_by("pk"):
        try:
            fresh = keys.reseal(channel.url)
        except (keys.SecretUnreadable, KeyError, TypeError):
            report.add(f"channel {channel.name}", 0, 1)
            continue
        Channel.objects.filter(pk=channel.pk).update(url=fresh)
        report.add(f"channel {channel.name}", 1, 0)


def _rewrite_tasks_file(report):
    """conf/tasks.json from the database again (no backup: the tasks did not change, only their seals)."""
    path = tasks_file()
    if not path.exists():
        return
    with jsonfile.locked(path):
        jsonfile.write_text_atomic(path, render_tasks_text())
    report.places.append("conf/tasks.json")


def _reseal_file(path, name, report):
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # not a readable tasks document: nothing of ours to reseal
    tasks = document.get("tasks") if isinstance(document, dict) else None
    if not isinstance(tasks, list):
        return
    changed = 0
    for index, task in enumerate(tasks):
        if isinstance(task, dict):
            tasks[index], done, lost = keys.reseal_task(task)
            report.add(name, done, lost)
            changed += done
    if changed:
        jsonfile.write_json_atomic(path, document)
        report.places.append(name)


def still_needing_older_keys() -> dict:
    """{where: count} of the stored secrets that the newest key alone does not open."""
    found = {}
    for task_id, env, notify in Task.objects.values_list("task_id", "task_env", "task_notify"):
        count = keys.needs_older_key({"task_env": env, "task_notify": notify})
        if count:
            found[f"task {task_id}"] = count
    for name, url in Channel.objects.values_list("name", "url"):
        if isinstance(url, dict) and "encrypted" in url and not keys.sealed_by_newest(url):
            found[f"channel {name}"] = 1
    for entry in versions.snapshots():
        count = keys.needs_older_key(entry.serialized_data) if isinstance(entry.serialized_data, dict) else 0
        if count:
            found["the audit trail's versions"] = found.get("the audit trail's versions", 0) + count
    files = [("conf/tasks.json", tasks_file())] + [(b.name, b.path) for b in backups.list_backups()]
    for where, path in files:
        document = jsonfile.read_json(path, {}) if path.exists() else {}
        for task in (document or {}).get("tasks") or []:
            count = keys.needs_older_key(task) if isinstance(task, dict) else 0
            if count:
                found[where] = found.get(where, 0) + count
    return found
