"""Bulk actions on many tasks at once (the task list's check boxes, POST /api/bulk, the admin): enable, disable,
run now, add or remove a tag, delete. Each task gets its own outcome (done, unchanged, refused with the reason, not
found) and its own audit entry, as the one-task services give; the writes of one action are a few statements for
all the tasks, one change-marker bump and one mirror of conf/tasks.json, so 1,000 tasks take a fraction of a
second and the scheduler sees them all at its next tick (a bulk update() sends no signals: the marker is bumped
here)."""
import logging
from dataclasses import asdict, dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ..audit import events as audit_events
from ..audit import record as audit
from ..definition.fields import MAX_TAGS, task_to_dict
from ..definition.shown import show
from ..definition.tags import normal_tag
from ..models import ConfigVersion, ExecutionStatus, Task, TaskExecution, TaskStatus, Trigger
from .tasks import _check_via, _mirror_after_commit

log = logging.getLogger("SchedulerEngine")

ENABLE, DISABLE, RUN, ADD_TAG, REMOVE_TAG, DELETE = "enable", "disable", "run", "add_tag", "remove_tag", "delete"
ACTIONS = (ENABLE, DISABLE, RUN, ADD_TAG, REMOVE_TAG, DELETE)
TAG_ACTIONS = frozenset({ADD_TAG, REMOVE_TAG})
ADMIN_ONLY = frozenset({DELETE})  # the others need an operator, as their one-task services do
MAX_TASKS = 10_000  # one request's selection; "all matching" a filter beyond this is refused, not cut short
DONE, UNCHANGED, REFUSED, NOT_FOUND = "done", "unchanged", "refused", "not_found"


class BulkError(ValueError):
    """A request that cannot be carried out at all: `field` names what is wrong (action, tag, task_ids)."""

    def __init__(self, field, message):
        self.field = field
        self.message = str(message)
        super().__init__(f"{field}: {self.message}")


@dataclass
class Outcome:
    task_id: str
    result: str  # DONE, UNCHANGED, REFUSED or NOT_FOUND
    message: str = ""
    execution_id: int | None = None  # the queued run of a run now

    def as_dict(self):
        return {k: v for k, v in asdict(self).items() if v is not None}


def check_request(action, task_ids, tag=None) -> tuple[list, str | None]:
    """The request's task ids (each once, in order) and tag (lowercased), or BulkError naming the field."""
    if action not in ACTIONS:
        raise BulkError("action", _("action %(value)s is not one of %(choices)s.")
                        % {"value": show(action), "choices": ", ".join(ACTIONS)})
    if not isinstance(task_ids, (list, tuple)) or not all(isinstance(t, str) for t in task_ids):
        raise BulkError("task_ids", _("task_ids must be a list of task ids, got %(value)s.") % {"value": show(task_ids)})
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        raise BulkError("task_ids", _("No task is selected."))
    if len(ids) > MAX_TASKS:
        raise BulkError("task_ids", _("%(count)d tasks are selected; at most %(limit)d at once.")
                        % {"count": len(ids), "limit": MAX_TASKS})
    if action in TAG_ACTIONS:
        if tag in (None, ""):
            raise BulkError("tag", _("The action %(action)s needs a tag.") % {"action": action})
        try:
            tag = normal_tag(tag)
        except ValidationError as exc:
            raise BulkError("tag", exc.messages[0]) from None
    return ids, tag if action in TAG_ACTIONS else None


def bulk_action(action, task_ids, *, tag=None, actor: str, via: str) -> list[Outcome]:
    """Carry out `action` on the tasks `task_ids`; one Outcome per id, in the order given. BulkError for a
    request that cannot be carried out at all (unknown action, no tasks, a bad tag)."""
    _check_via(via)
    ids, tag = check_request(action, task_ids, tag)
    with transaction.atomic():
        found = {t.task_id: t for t in Task.objects.select_for_update().filter(task_id__in=ids)}
        tasks = [found[t] for t in ids if t in found]
        if action in (ENABLE, DISABLE):
            outcomes = _set_enabled(tasks, action == ENABLE, actor, via)
        elif action == RUN:
            outcomes = _run_now(tasks, actor, via)
        elif action in TAG_ACTIONS:
            outcomes = _retag(tasks, tag, action == ADD_TAG, actor, via)
        else:
            outcomes = _delete(tasks, actor, via)
    missing = [Outcome(t, NOT_FOUND, _("No task with task_id %(value)s.") % {"value": show(t)})
               for t in ids if t not in found]
    by_id = {o.task_id: o for o in outcomes + missing}
    result = [by_id[t] for t in ids]
    done = sum(o.result == DONE for o in result)
    log.info("Bulk %s%s by %s via %s: %d of %d task(s) done, %d refused", action, f" {tag}" if tag else "", actor,
             via, done, len(result), sum(o.result == REFUSED for o in result))
    if done and action != RUN:
        _mirror_after_commit(actor, via)
    return result


def _set_enabled(tasks, enabled, actor, via):
    changing = [t for t in tasks if t.task_enabled != enabled]
    before = {t.pk: task_to_dict(t) for t in changing}
    if changing:
        now = timezone.now()
        Task.objects.filter(pk__in=[t.pk for t in changing]).update(task_enabled=enabled, updated_at=now)
        for task in changing:
            task.task_enabled, task.updated_at = enabled, now
        _store_next_runs(changing)
        ConfigVersion.bump()
        event = audit_events.TASK_ENABLED if enabled else audit_events.TASK_DISABLED
        audit.task_events([(event, t, before[t.pk], task_to_dict(t)) for t in changing], actor=actor, via=via,
                          origin=audit.batch_origin())
    already = _("already enabled") if enabled else _("already disabled")
    return [Outcome(t.task_id, DONE if t.pk in before else UNCHANGED, "" if t.pk in before else already)
            for t in tasks]


def _store_next_runs(tasks):
    """Task.store_next_run for many tasks: the lists read the stored next run (no cron per row)."""
    now = timezone.now()
    statuses = {s.task_id: s for s in TaskStatus.objects.filter(task__in=tasks)}
    new, changed = [], []
    for task in tasks:
        status = statuses.get(task.pk)
        if status is None:
            new.append(TaskStatus(task=task, next_run_time=task.next_run_time(now)))
        else:
            status.next_run_time, status.updated_at = task.next_run_time(now), now
            changed.append(status)
    TaskStatus.objects.bulk_create(new, batch_size=500)
    _update_rows(TaskStatus, ["next_run_time", "updated_at"], changed)


def _update_rows(model, names, objects):
    """Write fields `names` of `objects` (each row its own values): one prepared UPDATE run for every row. Django's
    bulk_update builds a CASE per field and row, which costs over a second for 1,000 rows."""
    if not objects:
        return
    fields = [model._meta.get_field(name) for name in names]
    key = model._meta.pk
    sets = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields)
    sql = (f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {sets} "
           f"WHERE {connection.ops.quote_name(key.column)} = %s")
    rows = [[f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
            + [key.get_db_prep_save(getattr(obj, key.attname), connection)] for obj in objects]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _run_now(tasks, actor, via):
    """services.executions.run_now for each task: a queued manual run the scheduler claims at its next tick."""
    runs = TaskExecution.objects.bulk_create([
        TaskExecution(task=t, status=ExecutionStatus.QUEUED, trigger=Trigger.MANUAL, requested_by=actor, worker="")
        for t in tasks], batch_size=500)
    audit.run_events([(audit_events.RUN_REQUESTED, run.task, {"execution": run.pk}) for run in runs],
                     actor=actor, via=via)
    return [Outcome(run.task.task_id, DONE, execution_id=run.pk) for run in runs]


def _retag(tasks, tag, add, actor, via):
    outcomes, changed, before = [], [], {}
    for task in tasks:
        tags = list(task.task_tags or [])
        if add and tag in tags or not add and tag not in tags:
            message = _("already has the tag %(tag)s") if add else _("does not have the tag %(tag)s")
            outcomes.append(Outcome(task.task_id, UNCHANGED, message % {"tag": tag}))
            continue
        if add and len(tags) >= MAX_TAGS:
            outcomes.append(Outcome(task.task_id, REFUSED, _("task_tags has %(count)d tags; at most %(limit)d are "
                                                             "allowed.") % {"count": len(tags) + 1, "limit": MAX_TAGS}))
            continue
        before[task.pk] = task_to_dict(task)
        task.task_tags = tags + [tag] if add else [t for t in tags if t != tag]
        task.updated_at = timezone.now()
        changed.append(task)
        outcomes.append(Outcome(task.task_id, DONE))
    if changed:
        _update_rows(Task, ["task_tags", "updated_at"], changed)
        ConfigVersion.bump()
        audit.task_events([(audit_events.TASK_UPDATED, t, before[t.pk], task_to_dict(t)) for t in changed],
                          actor=actor, via=via, origin=audit.batch_origin())
    return outcomes


def _delete(tasks, actor, via):
    """delete_task for each task: refused while a task that stays depends on it (tasks deleted together may
    depend on each other)."""
    deleting = {t.task_id for t in tasks}
    graph = [(tid, set(deps or [])) for tid, deps in Task.objects.exclude(task_dependencies=[])
             .values_list("task_id", "task_dependencies")]
    refused = {}
    while True:  # refusing one may leave its own dependencies with a dependent that stays
        more = {}
        for task_id in deleting:
            staying = sorted(other for other, deps in graph if task_id in deps and other not in deleting)
            if staying:
                more[task_id] = staying
        if not more:
            break
        refused.update(more)
        deleting -= set(more)
    gone = [t for t in tasks if t.task_id in deleting]
    if gone:
        audit.task_events([(audit_events.TASK_DELETED, t, task_to_dict(t), None) for t in gone], actor=actor, via=via,
                          origin=audit.batch_origin())
        Task.objects.filter(pk__in=[t.pk for t in gone]).delete()
        ConfigVersion.bump()
    return [Outcome(t.task_id, DONE) if t.task_id in deleting else Outcome(
        t.task_id, REFUSED, _("Task %(task)s cannot be deleted: %(dependents)s depend(s) on it. Remove it from their "
                              "task_dependencies first.") % {"task": show(t.task_id),
                                                             "dependents": ", ".join(refused[t.task_id])})
        for t in tasks]
