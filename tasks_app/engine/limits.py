"""A run's resource limits: the defaults (settings.SCHEDULER_LIMITS) with the task's own (task_limits), how
they are enforced, and what to say when a run hit one.

memory and processes are enforced by the run's cgroup where the engine can create one (cgroups.py), else
by setrlimit in the script's process: RLIMIT_AS (address space, a rough stand-in for memory, so only for
a limit set explicitly) and RLIMIT_NPROC (counted per user, so only for a run-as user other than the
engine's). cpu, file_size and open_files are always setrlimit: RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE."""
import os
import resource
import signal
from dataclasses import dataclass, field

from django.conf import settings

from scheduler_site.env import LIMIT_NAMES, limit_value
from tasks_app.models.execution import limit_text, size_text

from . import cgroups

# Memory when neither SCHEDULER_LIMITS nor the task names one: only where a cgroup enforces it exactly.
CGROUP_MEMORY_DEFAULT = 2 * 1024 ** 3


class LimitsError(ValueError):
    """A task's task_limits cannot be read."""


def limits_for(task) -> dict:
    """The limits a task's runs get (task None: every run's defaults): name -> value or None (no limit). A
    name missing from both the defaults and the task is missing here too (memory: the cgroup default applies)."""
    own = (task.task_limits if task is not None else None) or {}
    if not isinstance(own, dict):
        raise LimitsError(f"task_limits: expected a JSON object such as {{\"memory\": \"512M\"}}, got {own!r}")
    limits = dict(settings.SCHEDULER_LIMITS)
    for name, raw in own.items():
        try:
            value = limit_value(name, raw, "task_limits")
        except ValueError as exc:
            raise LimitsError(str(exc)) from None
        # Saved under a higher ceiling than today's: the administrator's ceiling wins.
        ceiling = settings.SCHEDULER_LIMITS_MAX.get(name)
        limits[name] = value if ceiling is None or (value is not None and value <= ceiling) else ceiling
    return limits


@dataclass
class LimitPlan:
    """How one run's limits are applied: what the record says, and what the shepherd is given."""

    values: dict  # name -> bytes / seconds / count, or None
    mechanism: str  # cgroup-v1, cgroup-v2 or setrlimit (for memory and processes)
    cgroup: dict | None  # cgroups.run_spec, or None
    rlimits: list = field(default_factory=list)  # [name, soft, hard], always applied
    fallback_rlimits: list = field(default_factory=list)  # applied only if the run's cgroup cannot be made

    def record(self, mechanism: str | None = None) -> dict:
        """The execution's `limits` field: {"mechanism": ..., "memory": ..., ...}."""
        return {"mechanism": mechanism or self.mechanism, **{name: self.values.get(name) for name in LIMIT_NAMES}}


def plan_for(task, execution_id, run_as) -> LimitPlan:
    """LimitsError for a task_limits that cannot be read. run_as: the identity.RunAs the run switches to."""
    limits = limits_for(task)
    found = cgroups.support()
    memory_explicit = "memory" in limits
    memory = limits.get("memory") if memory_explicit else (CGROUP_MEMORY_DEFAULT if found else None)
    values = {"memory": memory, "cpu": limits.get("cpu"), "processes": limits.get("processes"),
              "file_size": limits.get("file_size"), "open_files": limits.get("open_files")}
    rlimits = []
    if values["cpu"]:
        # SIGXCPU at the limit names it; SIGKILL a second later if the script catches SIGXCPU.
        rlimits.append(_rlimit("RLIMIT_CPU", values["cpu"], values["cpu"] + 1))
    if values["file_size"]:
        rlimits.append(_rlimit("RLIMIT_FSIZE", values["file_size"]))
    if values["open_files"]:
        rlimits.append(_rlimit("RLIMIT_NOFILE", values["open_files"]))
    fallback = []
    if memory_explicit and memory:
        fallback.append(_rlimit("RLIMIT_AS", memory))
    if values["processes"] and run_as is not None:
        fallback.append(_rlimit("RLIMIT_NPROC", values["processes"]))
    spec = cgroups.run_spec(found, execution_id, memory, values["processes"]) if found else None
    if not found:  # what the fallback cannot enforce is not claimed in the record
        values["memory"] = memory if memory_explicit else None
        if run_as is None:
            values["processes"] = None
    return LimitPlan(values, found.mechanism if found else "setrlimit", spec, rlimits, fallback)


def fallback_values(plan: LimitPlan, run_as) -> dict:
    """The values the setrlimit fallback enforces, when the shepherd could not make the run's cgroup."""
    values = dict(plan.values)
    if not any(name == "RLIMIT_AS" for name, _, _ in plan.fallback_rlimits):
        values["memory"] = None
    if run_as is None:
        values["processes"] = None
    return values


def _rlimit(name, soft, hard=None):
    """[name, soft, hard], lowered to what this process may set (only root may raise a hard limit)."""
    hard = soft if hard is None else hard
    if os.geteuid() != 0:
        _, current = resource.getrlimit(getattr(resource, name))
        if current != resource.RLIM_INFINITY:
            hard = min(hard, current)
            soft = min(soft, hard)
    return [name, soft, hard]


# Words a script's last output lines hold when an error came from a limit setrlimit enforces.
HINTS = (
    ("memory", ("MemoryError", "Cannot allocate memory"), "RLIMIT_AS"),
    ("processes", ("Resource temporarily unavailable", "BlockingIOError"), "RLIMIT_NPROC"),
    ("open_files", ("Too many open files",), "RLIMIT_NOFILE"),
    ("file_size", ("File too large",), "RLIMIT_FSIZE"),
)
LIMIT_WORDS = {"memory": "memory limit", "cpu": "CPU time limit", "processes": "process limit",
               "file_size": "file size limit", "open_files": "open files limit"}


def reached(record: dict, outcome: dict) -> str:
    """What the kernel says about a limit this run hit ("" if nothing): the cgroup's OOM kill or pids.max
    event, SIGXCPU (or SIGKILL after using up the CPU time), SIGXFSZ."""
    events = outcome.get("events") or {}
    code = outcome.get("returncode")
    if events.get("oom_kill") and record.get("memory"):
        return f"memory limit of {size_text(record['memory'])} reached (cgroup OOM kill)"
    if events.get("pids_max") and record.get("processes"):
        return f"process limit of {record['processes']} reached (cgroup pids.max)"
    cpu = record.get("cpu")
    if cpu and (code == -signal.SIGXCPU or code == -signal.SIGKILL and (outcome.get("cpu") or 0) >= cpu):
        return f"CPU time limit of {cpu} s reached ({'SIGXCPU' if code == -signal.SIGXCPU else 'SIGKILL'})"
    if record.get("file_size") and code == -signal.SIGXFSZ:
        return f"file size limit of {size_text(record['file_size'])} reached (SIGXFSZ)"
    return ""


def maybe_reached(record: dict, output_tail: str) -> str:
    """For a failed run without a kernel report: a setrlimit limit its last output suggests ("" if none)."""
    for name, words, rlimit in HINTS:
        value = record.get(name)
        if not value or (name in ("memory", "processes") and record.get("mechanism") != "setrlimit"):
            continue
        found = next((word for word in words if word in output_tail), None)
        if found:
            return f"the {LIMIT_WORDS[name]} of {limit_text(name, value)} ({rlimit}) may have been reached ({found})"
    return ""
