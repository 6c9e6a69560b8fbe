"""Fast start (SCHEDULER_FAST_START, a task's task_fast_start): a run's shepherd forked by a pre-started clean
interpreter, the zygote (shepherd/zygote.py), instead of a new interpreter spawned for it. The engine's side:
start the zygote (again after its end, and a fresh one every RESTART_EVERY runs), ask it for a shepherd, and a
handle of that shepherd with what ShepherdLink uses of a Popen (pid, poll, wait, kill, returncode).

A run falls back to a spawn, and its record says why (limits record, "start"), while the zygote is down or
when forking would share more than a spawn with another user (a run-as user). See the README's "Fast start"."""
import logging
import os
import select
import signal
import socket
import subprocess
import threading
import time

from django.conf import settings

from . import subreaper
from .childenv import INTERPRETER_FLAGS, SHEPHERD, SHEPHERD_ENV, task_python

log = logging.getLogger("TaskExecutor")

ZYGOTE = SHEPHERD.with_name("run_zygote.py")
ROOM = 4096  # bytes of blank command line a fork writes its shepherd's over (a script path is at most 500)
RESTART_EVERY = 200  # runs: a fresh zygote, so fewer runs share its hash seed and memory layout
RETRY_AFTER = 5.0  # seconds a zygote that ended by itself stays down (runs spawn meanwhile)
ANSWER_WAIT = 5.0  # seconds the engine waits for the zygote's answer before it spawns instead


def wanted(task) -> bool:
    """Whether the task's runs start through the zygote: its task_fast_start, else SCHEDULER_FAST_START."""
    choice = getattr(task, "task_fast_start", None)
    return settings.SCHEDULER_FAST_START if choice is None else bool(choice)


def refusal(spec) -> str:
    """Why a run that wants fast start is spawned instead ("" if it may fork)."""
    if spec.get("user"):
        # The zygote runs as the scheduler's user: its fork would give another user's script the hash seed and
        # memory layout of processes running as the scheduler's user (and of other users' runs).
        return "spawned: fast start is not used for a run-as user"
    return ""


class ForkedShepherd:
    """A shepherd forked by the zygote: not the engine's child, so its end is known by its pidfd and by the wait
    status the zygote writes into the run's status pipe."""

    def __init__(self, pid, pidfd, status_r):
        self.pid = pid
        self.pidfd = pidfd  # ShepherdLink takes it over (and closes it)
        self.status_r = status_r
        self.returncode = None
        self.orphaned = False  # the zygote ended before it reaped this shepherd

    def poll(self):
        if self.returncode is None and self.status_r is not None:
            try:
                data = os.read(self.status_r, 64)
            except BlockingIOError:
                return None
            if data:
                self._ended(os.waitstatus_to_exitcode(int(data)))
            else:  # the zygote ended before the shepherd: re-parented to the engine (a subreaper) or to init
                self.orphaned = True
                self._orphaned()
        return self.returncode

    def _orphaned(self):
        if not _readable(self.pidfd, 0):
            return
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped by init: its status is lost
            self._ended(255)
            return
        if pid:
            self._ended(os.waitstatus_to_exitcode(status))

    def _ended(self, code):
        self.returncode = code
        os.close(self.status_r)
        self.status_r = None

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("task-shepherd", timeout)
            # The status pipe while the zygote is there (its pidfd is readable before the zygote reaped it);
            # the pidfd once the zygote is gone (the pipe is then at its end for good).
            fd = self.status_r if self.status_r is not None and not self.orphaned else self.pidfd
            _readable(fd, 0.05 if left is None else min(left, 0.05))
        return self.returncode

    def kill(self):
        if self.returncode is None and self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)  # never another process with a reused pid
            except ProcessLookupError:
                pass


class _Zygote:
    """One zygote process and its socket. Started by a thread of its own that waits for its end: its
    parent-death signal fires when the thread that started it ends, so that thread lives as long as it."""

    def __init__(self):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        started = threading.Event()
        self.proc = None
        self.error = None

        def keep():
            try:
                with subreaper.spawning() as register:  # the engine's orphan sweep leaves it alone
                    self.proc = subprocess.Popen(
                        [task_python(), *INTERPRETER_FLAGS, str(ZYGOTE), " " * ROOM], stdin=theirs,
                        stdout=subprocess.DEVNULL, env=SHEPHERD_ENV, cwd="/", start_new_session=True)
                    register(self.proc.pid)
            except BaseException as exc:  # noqa: BLE001 (said by launch: runs spawn instead)
                self.error = exc
                return
            finally:
                theirs.close()
                started.set()
            self.proc.wait()
            subreaper.forget(self.proc.pid)

        threading.Thread(target=keep, name="task-zygote", daemon=True).start()
        started.wait()
        self.runs = 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and self.sock is not None

    def fork(self, command, ctrl_r, out_fd, result_w) -> ForkedShepherd:
        """OSError if the zygote cannot give a shepherd (gone, or refused)."""
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        try:
            message = b"\0".join([b"fork", str(result_w).encode(), *(str(w).encode() for w in command)])
            socket.send_fds(self.sock, [message], [ctrl_r, out_fd, result_w, status_w])
            if not _readable(self.sock.fileno(), ANSWER_WAIT):
                raise OSError("the zygote did not answer")
            answer, fds, _, _ = socket.recv_fds(self.sock, 4096, 1)
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        if not answer.startswith(b"pid ") or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            os.close(status_r)
            raise OSError(answer.decode(errors="replace") or "the zygote ended")
        os.set_blocking(status_r, False)
        self.runs += 1
        return ForkedShepherd(int(answer[4:]), fds[0], status_r)

    def abandon(self):
        """It failed a request: killed, so that it forks nothing more (the shepherds it forked carry on)."""
        self.retire()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def retire(self):
        """No more forks: it reaps the shepherds it started, then exits (its thread reaps it)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None


_lock = threading.Lock()  # one request at a time on the socket; also guards the current zygote
_current: _Zygote | None = None
_down_until = 0.0


def fork_shepherd(command, ctrl_r, out_fd, result_w) -> tuple[ForkedShepherd | None, str]:
    """(the forked shepherd, "") or (None, why the run is spawned instead)."""
    global _current, _down_until
    if len(b"\0".join(str(w).encode() for w in command)) >= ROOM:
        return None, "spawned: its command line is too long for the fork server"
    with _lock:
        if _current is not None and (not _current.alive() or _current.runs >= RESTART_EVERY):
            if not _current.alive() and _current.runs < RESTART_EVERY:
                log.warning("The fast-start fork server ended; runs are spawned for %g s", RETRY_AFTER)
                _down_until = time.monotonic() + RETRY_AFTER
            _current.retire()
            _current = None
        if _current is None:
            if time.monotonic() < _down_until:
                return None, "spawned: the fast-start fork server is down"
            _current = _Zygote()
            if _current.error is not None:
                log.error("Cannot start the fast-start fork server: %s", _current.error)
                _down_until = time.monotonic() + RETRY_AFTER
                _current = None
                return None, "spawned: the fast-start fork server cannot start"
        try:
            return _current.fork(command, ctrl_r, out_fd, result_w), ""
        except OSError as exc:
            log.warning("The fast-start fork server did not fork a shepherd (%s): the run is spawned", exc)
            _current.abandon()
            _current = None
            _down_until = time.monotonic() + RETRY_AFTER
            return None, f"spawned: the fast-start fork server failed ({exc})"


def warm_up() -> None:
    """At the scheduler's start, with SCHEDULER_FAST_START: the first run need not wait for the zygote."""
    global _current
    with _lock:
        if _current is None:
            _current = _Zygote()
            if _current.error is not None:
                log.error("Cannot start the fast-start fork server: %s", _current.error)
                _current = None


def stop() -> None:
    """Retire the zygote (tests, shutdown): it exits once the shepherds it started have ended."""
    global _current, _down_until
    with _lock:
        if _current is not None:
            _current.retire()
            _current = None
        _down_until = 0.0


def _readable(fd, timeout) -> bool:
    if fd is None:
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))
