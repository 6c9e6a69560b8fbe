"""A run's preparation, everything before its spawn: the task type and resolved script, the command, the run-as
user, limits, clean environment and secrets, the task log made ready, the output file opened and the run's cgroup
made (cgroups.py), so that none of it waits for the slot.

The dispatcher prepares the first runs it holds until their slot (claimed scheduler.AHEAD early) while it waits
for the slot, and starts their shepherds then too (prestart.py), with their spec, so that after the slot only
"go" is left to send; any other run is prepared by its executor thread just before its shepherd starts. Either
way a run uses the task definition loaded when it was claimed: an edit after the claim applies from the task's
next run, whether or not the run was prepared early (the script file itself is read when the script starts, at
the slot, so its content is the one then)."""
import os
from dataclasses import dataclass, field
from pathlib import Path

from tasks_app import tasktypes
from tasks_app.definition.paths import task_log_file

from . import cgroups, identity, limits, output, prestart, tasklog
from .childenv import ScriptPathError, child_env, run_secrets, script_path, shepherd_spec

ATTRIBUTE = "_preparation"  # where a run prepared early keeps it, on its TaskExecution until its thread takes it


@dataclass(eq=False)
class Preparation:
    log_file: Path
    kind: object = None  # tasktypes type
    script: Path | None = None  # resolved; None for a type that runs no file
    argv: list | None = None
    run_as: object = None  # identity.RunAs or None
    plan: object = None  # limits.LimitPlan
    env: dict | None = None
    secrets: list = field(default_factory=list)
    out_fd: int | None = None
    output_path: Path | None = None
    unfit: str = ""  # why the task cannot run at all (its type, its script): the run fails before "starting"
    refused: str = ""  # why this run cannot start (environment, user, limits, task log, output file)
    task_log: object = None  # tasklog.TaskLog: the task log held open for the run's lines, until close()
    cgroup_ready: bool = False  # the run's cgroup (plan.cgroup) is made; the shepherd's link removes it once given
    cgroup_error: str = ""  # why it could not be made (then plan.cgroup is None: setrlimit applies)
    link: object = None  # shepherd_link.ShepherdLink: its shepherd started ahead (prestart.py), waiting for its spec

    def runnable(self) -> bool:
        """Whether the run has a shepherd to start (not a type the engine performs, nothing refused)."""
        return not (self.unfit or self.refused or self.kind.performs)

    def take_link(self):
        """The shepherd started ahead, if any; from here on its caller owns it."""
        link, self.link = self.link, None
        return link

    def went(self) -> bool:
        """Its shepherd started ahead was told "go": the script runs (or ran), whatever comes next."""
        return self.link is not None and self.link.went is not None

    def go(self, execution) -> bool:
        """At its slot: its script starts now if its shepherd was started ahead and not told already. False if it
        has none (any more: prestart.go drops one that died)."""
        return self.link is not None and (self.went() or prestart.go(execution, self))

    def drop_link(self) -> None:
        """Its shepherd started ahead and never given its spec: closing the control pipe makes it exit; it is
        reaped and the run's cgroup removed."""
        link = self.take_link()
        if link is not None:
            link.close()

    def spec(self) -> dict:
        """The shepherd's spec (childenv.shepherd_spec): nothing in it depends on the start moment, so a run held
        for its slot sends it at its preparation (prestart.py) and only says "go" at the slot."""
        spec = shepherd_spec(self.script, self.env, self.run_as, self.plan, -1, mask=self.secrets,
                             exec_argv=self.argv)
        spec["cgroup_error"] = self.cgroup_error
        return spec

    def task_log_writer(self):
        """The run's writer of its task log: the one prepared, or for a run never prepared that far (unfit, refused
        before its log, performed by its type) one that opens the log at its first line; closed with the preparation."""
        if self.task_log is None:
            self.task_log = tasklog.TaskLog(self.log_file, run_as=self.run_as)
        return self.task_log

    def close(self) -> None:
        if self.out_fd is not None:
            os.close(self.out_fd)
            self.out_fd = None
        if self.task_log is not None:
            self.task_log.close()

    def cgroup_given(self) -> None:
        """The shepherd's link has the run's cgroup now (it removes it)."""
        self.cgroup_ready = False

    def discard_cgroup(self) -> None:
        if self.cgroup_ready:
            self.cgroup_ready = False
            cgroups.kill_and_remove(self.plan.cgroup)

    def discard(self) -> None:
        """The run will never start: no handle stays open and no process, file or cgroup is left that the run alone
        made."""
        self.drop_link()
        self.close()
        self.discard_cgroup()
        if self.output_path is not None:
            self.output_path.unlink(missing_ok=True)
        if self.task_log is not None and self.task_log.made:
            try:
                if os.stat(self.log_file).st_size == 0:
                    os.unlink(self.log_file)
            except OSError:
                pass


def prepare(execution) -> Preparation:
    """Everything but the spawn; never raises for what the task or the file system refuses (it is kept in
    unfit or refused and reported when the run would start, as if it were found then)."""
    task = execution.task
    prep = Preparation(task_log_file(task))
    try:
        prep.kind = tasktypes.get_type(task.task_type)
        prep.script = script_path(task.task_exec) if prep.kind.runs_file else None
        problem = prep.kind.check_file(prep.script) if prep.script is not None else None
        if problem:
            raise ScriptPathError(f"task_exec {task.task_exec!r} cannot run as a {prep.kind.name} task: it {problem}")
    except (tasktypes.UnknownType, ScriptPathError) as exc:
        prep.unfit = str(exc)
        return prep
    if prep.kind.performs:
        return prep
    try:
        prep.argv = prep.kind.argv(prep.script, dict(task.task_options or {}))
    except Exception as exc:  # a plugin's bug names itself; the run fails, the engine goes on
        prep.refused = f"task type {prep.kind.name} could not build its command: {exc!r}"
        return prep
    try:
        prep.run_as = identity.run_as_for(task)
        prep.env = child_env(task, execution, prep.log_file, prep.run_as)
        prep.plan = limits.plan_for(task, execution.execution_id, prep.run_as)
    except ValueError as exc:  # a task_env name refused since the task was saved, a user not allowed, bad limits
        prep.refused = str(exc)
        return prep
    try:
        prep.task_log = tasklog.prepare(prep.log_file, prep.run_as)
    except OSError as exc:
        prep.refused = f"cannot prepare the task log {prep.log_file}: {exc}"
        return prep
    prep.secrets = run_secrets(task, execution)
    try:
        prep.out_fd = output.open_output(execution.output_path)
        prep.output_path = Path(execution.output_path)
    except OSError as exc:
        prep.refused = f"cannot write output file: {exc}"
        return prep
    if prep.plan.cgroup:
        try:
            cgroups.create(prep.plan.cgroup)
            prep.cgroup_ready = True
        except OSError as exc:
            prep.plan.cgroup = None
            prep.cgroup_error = f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)
    return prep


def prepare_early(execution) -> None:
    """At claim time, for a run held until its slot: its shepherd too is started now."""
    prep = prepare(execution)
    setattr(execution, ATTRIBUTE, prep)  # first: whatever happens next, the run's discard or start finds it
    if prep.runnable():
        prestart.start_ahead(execution, prep)


def is_prepared(execution) -> bool:
    return ATTRIBUTE in execution.__dict__


def take(execution) -> Preparation:
    """The run's preparation, made early or now; from here on its caller owns it."""
    prep = execution.__dict__.pop(ATTRIBUTE, None)
    return prep if prep is not None else prepare(execution)


def go(execution) -> bool:
    """At its slot, for a run held for it: its script starts now if its shepherd was started ahead (its "go" sent
    at once, not by the executor thread that takes the run later). False if it has none (any more)."""
    prep = execution.__dict__.get(ATTRIBUTE)
    return prep is not None and prep.go(execution)


def went(execution) -> bool:
    """Whether the run's script was told to start already (go())."""
    prep = execution.__dict__.get(ATTRIBUTE)
    return prep is not None and prep.went()


def discard(execution) -> None:
    """A run that will never start: undo its early preparation, if it had one."""
    prep = execution.__dict__.pop(ATTRIBUTE, None)
    if prep is not None:
        prep.discard()
