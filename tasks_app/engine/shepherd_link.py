"""The engine's side of a run's shepherd (the shepherd package): start it with its spec, read what it reports, ask it
to end the run, and end the run by itself when the shepherd is gone (killed by a script running as the
scheduler's own user) or does not answer."""
import json
import logging
import os
import subprocess
import time
from datetime import UTC, datetime

from . import cgroups, forkserver, subreaper
from .childenv import SHEPHERD_ENV
from .procgroup import end_group, members

log = logging.getLogger("TaskExecutor")

ANSWER_MARGIN = 5.0  # seconds a shepherd gets beyond the grace to report that it ended its run


class ShepherdGone(Exception):
    """The shepherd could not be started or ended before it reported."""


class ShepherdLink:
    def __init__(self, proc, ctrl_w, result_r, cgroup_spec):
        self.proc = proc
        self.ctrl_w = ctrl_w
        self.result_r = result_r
        self.cgroup_spec = cgroup_spec
        self.buffer = b""
        self.child_pid = None
        self.end = None  # the shepherd's final report
        self.pidfd = getattr(proc, "pidfd", None) or _pidfd(proc.pid)  # a forked one comes with its own
        self.how = ""  # with fast start wanted: "forked" or why the run was spawned instead (the run's record)
        self.result_fd = None  # the result pipe's number in the shepherd, which its spec names
        self.cgroup_error = ""  # why the shepherd is not in the run's cgroup (its spec then says so)
        self.went = None  # (aware UTC datetime, monotonic seconds) of the "go": the run's start

    @classmethod
    def start(cls, command, spec, out_fd, fast=False, cgroup_ready=False):
        """launch() then send(spec): a run not prepared ahead of its slot starts its shepherd at the slot."""
        link = cls.launch(command, out_fd, spec.get("cgroup"), fast, bool(spec.get("user")), cgroup_ready,
                          execs=bool(spec.get("exec")))
        link.send(spec)
        return link

    @classmethod
    def launch(cls, command, out_fd, cgroup=None, fast=False, run_as_user=False, cgroup_ready=False, execs=False):
        """Start the shepherd (forked by the zygote when `fast` and forkserver allows it, or when it `execs` the
        run's command; else spawned, as when the zygote is down) and move it into the run's cgroup (made here, or
        before with `cgroup_ready`: from here on the link removes it). It then waits for its spec (send());
        closing the link instead makes it exit. OSError / SubprocessError if it cannot be started. A cgroup that
        cannot be made or joined leaves the run to setrlimit (send() says why in the spec)."""
        failed = ""
        if cgroup and not cgroup_ready:
            try:
                cgroups.create(cgroup)
            except OSError as exc:
                cgroup, failed = None, _why(exc)
        ctrl_r, ctrl_w = os.pipe()
        result_r, result_w = os.pipe()
        how, proc = "", None
        try:
            if fast or execs:  # outside spawning(): the zygote's own start takes its lock
                # A command exec'd by the script's process keeps nothing of the zygote (exec replaces the address
                # space): what forkserver.refusal guards, a run-as user's script sharing it, cannot happen then.
                how = "" if execs else forkserver.refusal(run_as_user)
                if not how:
                    proc, how = forkserver.fork_shepherd(command, ctrl_r, out_fd, result_w)
                    if proc is None:  # spawned on new pipes: a late fork of a failing zygote sees its pipes end
                        for fd in (ctrl_r, ctrl_w, result_r, result_w):
                            os.close(fd)
                        ctrl_r, ctrl_w = os.pipe()
                        result_r, result_w = os.pipe()
                    how = how or "forked"
                if not fast:
                    how = ""  # the record says how fast start went, for a run that asked for it
            with subreaper.spawning() as register:
                if proc is None:
                    proc = subprocess.Popen(
                        command, stdin=ctrl_r, stdout=out_fd, stderr=subprocess.STDOUT, pass_fds=(result_w,),
                        env=SHEPHERD_ENV, cwd="/", start_new_session=True,
                    )
                # A forked shepherd too: re-parented to the engine if the zygote dies, it is no orphan to sweep.
                register(proc.pid)
        except BaseException:
            for fd in (ctrl_r, ctrl_w, result_r, result_w):
                os.close(fd)
            cgroups.kill_and_remove(cgroup)
            raise
        os.close(ctrl_r)
        os.close(result_w)
        link = cls(proc, ctrl_w, result_r, cgroup)
        link.result_fd, link.how, link.cgroup_error = result_w, how, failed
        if cgroup:
            try:
                cgroups.join(cgroup, proc.pid)  # while its interpreter starts: see cgroups.py
            except OSError as exc:
                link.cgroup_error = _why(exc)
        os.set_blocking(result_r, False)
        return link

    def send(self, spec, hold=False) -> None:
        """Give the waiting shepherd its run (result_fd filled in). With `hold` (a run prepared ahead of its
        slot), the shepherd sets up the script's process at once but starts the script only at go(). ShepherdGone
        (and the link closed) if it died before taking it."""
        spec = {"cgroup_error": "", **spec, "result_fd": self.result_fd, "hold": hold}
        if self.cgroup_error:  # the run's cgroup could not be made or joined here
            spec["cgroup"], spec["cgroup_error"] = None, self.cgroup_error
        self._write((json.dumps(spec) + "\n").encode())

    def go(self) -> None:
        """At the slot: a held run's script starts (self.went says when). ShepherdGone (and the link closed) if the
        shepherd died meanwhile without a word; one that ended the run already (its set-up failed) keeps its
        report."""
        went = datetime.now(UTC), time.monotonic()
        if self.proc.poll() is not None and self.read_end() is None:
            # Dead without a word: the write below would not fail while its held script's process, killed by its
            # parent-death signal, has not yet let go of the control pipe, and the run would start with no shepherd.
            self.close()
            raise ShepherdGone(f"the shepherd ended before the slot (exit status {self.proc.returncode})")
        self._write(b"go\n")
        self.went = went

    def _write(self, data: bytes) -> None:
        try:
            _write_all(self.ctrl_w, data)
        except OSError as exc:
            if self.read_end() is not None:  # it ended the run already (its set-up failed): it says why
                return
            self.close()
            raise ShepherdGone(f"the shepherd did not take the run: {exc}") from None

    def read_events(self) -> list[dict]:
        """What the shepherd reported since the last call (it never blocks)."""
        try:
            while True:
                chunk = os.read(self.result_r, 65536)
                if not chunk:
                    break
                self.buffer += chunk
        except BlockingIOError:
            pass
        events = []
        while b"\n" in self.buffer:
            line, _, self.buffer = self.buffer.partition(b"\n")
            try:
                events.append(json.loads(line))
            except ValueError:
                log.error("Unreadable line from a shepherd: %r", line[:200])
        for event in events:
            if event.get("event") == "started":
                self.child_pid = event.get("pid")
            elif event.get("event") == "end":
                self.end = event
        return events

    def term(self, grace: float) -> None:
        """Ask the shepherd to end the run: SIGTERM to every process of it, SIGKILL after `grace` s."""
        try:
            os.write(self.ctrl_w, f"term {grace}\n".encode())
        except OSError:  # gone: the caller sees it exit
            pass

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def end_without_shepherd(self) -> int:
        """The shepherd is gone or does not answer: kill it, then the run's processes by every other way
        the engine has (the script's process group, orphans re-parented to the engine, the run's cgroup).
        Returns how many processes of the run were killed."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        killed = 0
        if self.child_pid:
            killed += sum(1 for _, state in members(self.child_pid) if state != "Z")
            end_group(self.child_pid, 0, kill_wait=2.0)
        killed += subreaper.sweep()
        killed += cgroups.kill_and_remove(self.cgroup_spec)
        self.cgroup_spec = None
        return killed

    def abort(self, wait: float = 5.0) -> None:
        """The engine itself failed during the run: closing the control pipe makes the shepherd kill every
        process of the run at once; the engine makes sure of it if the shepherd does not."""
        self._close_control()
        try:
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            pass
        if self.read_end() is None:
            self.end_without_shepherd()

    def read_end(self) -> dict | None:
        """The shepherd's final report, if it sent one."""
        self.read_events()
        return self.end

    def _close_control(self):
        if self.ctrl_w is not None:
            os.close(self.ctrl_w)
            self.ctrl_w = None

    def close(self) -> None:
        """After the run: the shepherd is reaped, the run's cgroup removed, every descriptor closed."""
        self._close_control()
        try:
            self.proc.wait(ANSWER_MARGIN)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subreaper.forget(self.proc.pid)
        cgroups.kill_and_remove(self.cgroup_spec)  # empty by now: the shepherd was its last process
        for fd in (self.result_r, self.pidfd):
            if fd is not None:
                os.close(fd)
        self.result_r = self.pidfd = None


def _why(exc: OSError) -> str:
    return f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)


def _write_all(fd, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # kernels before 5.3: the runner polls instead
        return None

