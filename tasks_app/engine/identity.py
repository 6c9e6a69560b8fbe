"""Which user a run runs as: SCHEDULER_RUN_AS for every run, or the task's own task_run_as when it is one
of SCHEDULER_RUN_AS_ALLOWED. Names are resolved with pwd/grp (once per value) and checked when the
scheduler starts, so a typo stops it at once instead of failing every run."""
import functools
import grp
import os
import pwd
import subprocess
from dataclasses import dataclass

from django.conf import settings

from .childenv import task_python


class RunAsError(ValueError):
    """A run-as setting or a task's task_run_as that cannot be used; the message names it and its value."""


@dataclass(frozen=True)
class RunAs:
    name: str
    uid: int
    gid: int
    groups: tuple
    home: str

    def spec(self) -> dict:
        return {"name": self.name, "uid": self.uid, "gid": self.gid, "groups": list(self.groups)}


@functools.lru_cache(maxsize=64)
def resolve(value: str, variable: str) -> RunAs:
    """"user" or "user:group" -> RunAs with the user's groups (os.getgrouplist); RunAsError naming
    `variable` and the value for an unknown user or group."""
    user, sep, group = value.partition(":")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise RunAsError(f"{variable}={value!r}: there is no user {user!r} on this machine") from None
    gid = entry.pw_gid
    if sep:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise RunAsError(f"{variable}={value!r}: there is no group {group!r} on this machine") from None
    return RunAs(entry.pw_name, entry.pw_uid, gid, tuple(os.getgrouplist(entry.pw_name, gid)), entry.pw_dir)


def engine_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _switch_to(run_as: RunAs, variable: str, value: str) -> RunAs | None:
    """None when no switch is needed (the engine already is that user); RunAsError if it is impossible."""
    if os.geteuid() == 0:
        return run_as if run_as.uid != 0 or run_as.gid != os.getegid() else None
    if run_as.uid != os.geteuid():
        raise RunAsError(f"{variable}={value!r}: the scheduler runs as {engine_user()}, not as root, so it "
                         f"cannot start runs as {run_as.name}")
    return None


def default_run_as() -> RunAs | None:
    value = settings.SCHEDULER_RUN_AS
    if not value:
        return None
    return _switch_to(resolve(value, "SCHEDULER_RUN_AS"), "SCHEDULER_RUN_AS", value)


def run_as_for(task) -> RunAs | None:
    """The user `task`'s runs switch to, or None for the scheduler's own user. RunAsError if the task names
    a user the administrator did not allow."""
    wanted = (task.task_run_as or "").strip()
    if not wanted:
        return default_run_as()
    allowed = settings.SCHEDULER_RUN_AS_ALLOWED
    if wanted not in allowed:
        listed = ", ".join(allowed) if allowed else "empty"
        raise RunAsError(f"task_run_as={wanted!r}: not one of SCHEDULER_RUN_AS_ALLOWED ({listed})")
    return _switch_to(resolve(wanted, "SCHEDULER_RUN_AS_ALLOWED"), "task_run_as", wanted)


def run_user_name(run_as: RunAs | None) -> str:
    """What an execution records as its user."""
    return run_as.name if run_as is not None else engine_user()


def check_configuration() -> list[RunAs]:
    """When the scheduler starts: every configured user exists, can be switched to, and can start the
    task interpreter. RunAsError (naming the setting and the value) otherwise. Returns the users checked."""
    users = []
    default = default_run_as()
    if default is not None:
        users.append(("SCHEDULER_RUN_AS", settings.SCHEDULER_RUN_AS, default))
    for name in settings.SCHEDULER_RUN_AS_ALLOWED:
        run_as = _switch_to(resolve(name, "SCHEDULER_RUN_AS_ALLOWED"), "SCHEDULER_RUN_AS_ALLOWED", name)
        if run_as is not None:
            users.append(("SCHEDULER_RUN_AS_ALLOWED", name, run_as))
    for variable, value, run_as in users:
        problem = interpreter_problem(run_as)
        if problem:
            raise RunAsError(f"{variable}={value!r}: user {run_as.name} cannot start the task interpreter "
                             f"{task_python()} ({problem}). It and every folder above it and its library must "
                             f"be readable by {run_as.name}; SCHEDULER_PYTHON can name another interpreter")
    return [run_as for _, _, run_as in users]


def interpreter_problem(run_as: RunAs) -> str:
    """"" if `run_as` can start the task interpreter and import from its library, else what went wrong."""
    try:
        done = subprocess.run(
            [task_python(), "-E", "-s", "-c", "import json, logging"], user=run_as.uid, group=run_as.gid,
            extra_groups=list(run_as.groups), cwd="/", env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"},
            stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit code {done.returncode}"
    return ""
