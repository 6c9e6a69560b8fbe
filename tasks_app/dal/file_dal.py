"""TaskDataAccess over three JSON files (the format export writes and import reads).

    tasks.json         {"tasks": [{"task_id": ..., "task_name": ..., ...}, ...]}
                       Rendered by conffile/render.py: the first thirteen fields always, the additions
                       (task_timezone, task_overlap, task_misfire_grace) only when not at their default,
                       so a file written by hand round-trips unchanged. Ordered by task_id.
    task_history.json  {"last_execution_id": 7, "executions": [{"execution_id": 7, "task_id": ...,
                       "start_time": "2023-07-17T02:30:45+00:00", ...}, ...]}  (oldest first; the counter
                       keeps ids unique even after the newest execution is deleted)
    task_status.json   {"tasks": {"<task_id>": {"running": false, "last_execution_id": 7,
                       "last_status": "success", "last_start_time": "...", "last_end_time": "...",
                       "next_run_time": "..."}}}

Times are ISO 8601 in UTC with their offset. Every write is a locked read-modify-write through jsonfile
(locks always taken in the order tasks, history, status, so two writers cannot deadlock).
"""
from datetime import datetime, timezone
from pathlib import Path

from tasks_app.conffile import jsonfile
from tasks_app.conffile.render import render_tasks_document

from tasks_app.definition.fields import TASK_FIELDS

from . import domain
from .base import (STATUS_FIELDS, STATUS_TIME_FIELDS, TaskDataAccess, TaskNotFound, as_utc, check_status_update,
                   empty_status, unknown_execution)

EXECUTION_KEYS = ("execution_id", "task_id", "status", "trigger", "attempt", "scheduled_time", "start_time",
                  "end_time", "duration", "return_code", "error_message")
EXECUTION_TIMES = ("scheduled_time", "start_time", "end_time")


def task_from_dict(data: dict) -> domain.Task:
    try:
        return domain.Task(**{name: data[name] for name in TASK_FIELDS if name in data})
    except TypeError as exc:
        raise ValueError(f"task {data.get('task_id')!r}: {exc}") from None


def time_to_text(value, field="time"):
    return None if value is None else as_utc(value, field).isoformat()


def time_from_text(value):
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return as_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc))


def execution_to_dict(execution: domain.TaskExecution) -> dict:
    data = {name: getattr(execution, name) for name in EXECUTION_KEYS}
    for name in EXECUTION_TIMES:
        data[name] = time_to_text(data[name], name)
    data["error_message"] = data["error_message"] or None
    return data


def execution_from_dict(data: dict) -> domain.TaskExecution:
    values = {name: data.get(name) for name in EXECUTION_KEYS}
    for name in EXECUTION_TIMES:
        values[name] = time_from_text(values[name])
    values["trigger"] = values["trigger"] or "schedule"
    values["attempt"] = values["attempt"] or 1
    values["status"] = values["status"] or "running"
    return domain.TaskExecution(**values)


def status_to_file(status: dict) -> dict:
    return {name: time_to_text(status[name], name) if name in STATUS_TIME_FIELDS else status[name]
            for name in STATUS_FIELDS}


def status_from_file(data: dict | None) -> dict:
    status = empty_status()
    for name in STATUS_FIELDS:
        if data and name in data:
            status[name] = time_from_text(data[name]) if name in STATUS_TIME_FIELDS else data[name]
    return status


def history_document(executions, last_execution_id=0) -> dict:
    """task_history.json's content from domain.TaskExecution objects (any order)."""
    rows = sorted((execution_to_dict(e) for e in executions), key=lambda d: d["execution_id"])
    top = max([last_execution_id or 0] + [row["execution_id"] for row in rows])
    return {"last_execution_id": top, "executions": rows}


def status_document(statuses: dict) -> dict:
    """task_status.json's content from {task_id: status dict}."""
    return {"tasks": {task_id: status_to_file(statuses[task_id]) for task_id in sorted(statuses)}}


class FileTaskDataAccess(TaskDataAccess):
    def __init__(self, tasks_file, history_file, status_file):
        self.tasks_file = Path(tasks_file)
        self.history_file = Path(history_file)
        self.status_file = Path(status_file)

    # Reading and writing whole files.
    def _task_dicts(self):
        return list(jsonfile.read_json(self.tasks_file, {}).get("tasks", []))

    def _history(self):
        data = jsonfile.read_json(self.history_file, {})
        return data.get("last_execution_id") or 0, list(data.get("executions", []))

    def _statuses(self):
        return dict(jsonfile.read_json(self.status_file, {}).get("tasks", {}))

    def write_tasks(self, tasks, key_orders=None):
        # The file's custom calendars are carried over as they are: this implementation stores tasks only.
        calendars = jsonfile.read_json(self.tasks_file, {}).get("calendars") or ()
        jsonfile.write_json_atomic(self.tasks_file, render_tasks_document(tasks, key_orders, calendars))

    # The TaskDataAccess interface.
    def get_all_tasks(self):
        return sorted((task_from_dict(d) for d in self._task_dicts()), key=lambda t: t.task_id)

    def get_task_by_id(self, task_id):
        for data in self._task_dicts():
            if data.get("task_id") == task_id:
                return task_from_dict(data)
        return None

    def save_task(self, task):
        new = task.to_dict()
        with jsonfile.locked(self.tasks_file):
            dicts = [d for d in self._task_dicts() if d.get("task_id") != task.task_id]
            # The dicts read back keep their key order, so a rewrite leaves other tasks untouched.
            self.write_tasks(dicts + [new])
        return task_from_dict(new)

    def delete_task(self, task_id):
        with jsonfile.locked(self.tasks_file):
            dicts = self._task_dicts()
            kept = [d for d in dicts if d.get("task_id") != task_id]
            if len(kept) == len(dicts):
                return False
            self.write_tasks(kept)
            with jsonfile.locked(self.history_file):
                top, rows = self._history()
                if any(row.get("task_id") == task_id for row in rows):
                    jsonfile.write_json_atomic(self.history_file, {
                        "last_execution_id": top,
                        "executions": [row for row in rows if row.get("task_id") != task_id],
                    })
            with jsonfile.locked(self.status_file):
                statuses = self._statuses()
                if statuses.pop(task_id, None) is not None:
                    jsonfile.write_json_atomic(self.status_file, {"tasks": statuses})
        return True

    def get_task_history(self, task_id, limit=10):
        _, rows = self._history()
        mine = sorted((r for r in rows if r.get("task_id") == task_id), key=lambda r: r["execution_id"], reverse=True)
        return [execution_from_dict(r) for r in mine[:limit]]

    def save_task_execution(self, execution):
        if self.get_task_by_id(execution.task_id) is None:
            raise TaskNotFound(execution.task_id)
        with jsonfile.locked(self.history_file):
            top, rows = self._history()
            if execution.execution_id is None:
                execution.execution_id = max([top] + [r["execution_id"] for r in rows]) + 1
            elif not any(r["execution_id"] == execution.execution_id for r in rows):
                raise ValueError(unknown_execution(execution.execution_id))
            row = execution_to_dict(execution)
            rows = [r for r in rows if r["execution_id"] != execution.execution_id] + [row]
            rows.sort(key=lambda r: r["execution_id"])
            jsonfile.write_json_atomic(self.history_file, {
                "last_execution_id": max(top, execution.execution_id), "executions": rows,
            })
        return execution_from_dict(row)

    def get_task_status(self, task_id):
        if self.get_task_by_id(task_id) is None:
            return None
        return status_from_file(self._statuses().get(task_id))

    def update_task_status(self, task_id, status):
        status = check_status_update(dict(status))
        if self.get_task_by_id(task_id) is None:
            raise TaskNotFound(task_id)
        execution_id = status.get("last_execution_id")
        if execution_id is not None:
            _, rows = self._history()
            if not any(r["execution_id"] == execution_id and r.get("task_id") == task_id for r in rows):
                raise ValueError(f"last_execution_id: no execution {execution_id!r} of task {task_id!r}")
        with jsonfile.locked(self.status_file):
            statuses = self._statuses()
            merged = status_from_file(statuses.get(task_id))
            merged.update(status)
            statuses[task_id] = status_to_file(merged)
            jsonfile.write_json_atomic(self.status_file, {"tasks": dict(sorted(statuses.items()))})
        return merged

