"""Fast start (SCHEDULER_FAST_START, a task's task_fast_start): a run's shepherd forked by a pre-started clean
interpreter, the zygote (shepherd/zygote.py), instead of a new interpreter spawned for it. The engine's side:
start the zygote (again after its end, and a fresh one every RESTART_EVERY runs), ask it for a shepherd, and a
handle of that shepherd with what ShepherdLink uses of a Popen (pid, poll, wait, kill, returncode).

A run falls back to a spawn, and its record says why (limits record, "start"), while the zygote is down or
when forking would share more than a spawn with another user (a run-as user). The zygote also forks the shepherd
of every run whose script's process execs a command (a shell task's), fast start or not, run-as user or not: the
exec leaves the command nothing of the zygote, and the run is spared an interpreter's start. See the README's
"Fast start"."""
import logging
import os
import select
import signal
import socket
import subprocess
import threading
import time

from django.conf import settings

from tasks_app import tasktypes

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


def serves(task) -> bool:
    """Whether the zygote is likely to fork the task's shepherds, so worth starting ahead: fast start wanted, or
    a type whose run execs its command (any but python and those the engine performs itself; the run decides
    by its command, see ShepherdLink.launch)."""
    return wanted(task) or (task.task_type or tasktypes.DEFAULT) not in runs_without_exec()


def runs_without_exec() -> list[str]:
    """The task types whose runs exec no command: python (the script runs in the shepherd's fork) and the types
    the engine performs (no process at all)."""
    return [name for name, kind in tasktypes.installed().items() if kind.performs or name == tasktypes.DEFAULT]


def refusal(run_as_user: bool) -> str:
    """Why a run that wants fast start is spawned instead ("" if it may fork)."""
    if run_as_user:
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
        self.lock = threading.Lock()  # one request at a time on its socket, held until the answer came
        self.ready = False  # its "ready" message read: its imports are done (zygote.serve)
        self.successor = None  # the zygote started to take over once this one has served RESTART_EVERY runs
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

    def is_ready(self, wait: float = 0.0) -> bool:
        """Whether it has started (its "ready" message, read once), waiting up to `wait` s for it."""
        if not self.ready and self.sock is not None and _readable(self.sock.fileno(), wait):
            self.ready = self.sock.recv(64) == b"ready"
            if not self.ready:  # it ended (or said something else) before it could fork anything
                raise OSError("the zygote did not start")
        return self.ready

    def fork(self, command, ctrl_r, out_fd, result_w) -> ForkedShepherd:
        """OSError if the zygote cannot give a shepherd (gone, or refused). Called with self.lock held."""
        if self.sock is None:
            raise OSError("the zygote was retired")
        if not self.is_ready(ANSWER_WAIT):
            raise OSError("the zygote did not start")
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


# Several zygotes, so that the pool's workers do not queue behind one socket (each request holds its zygote
# until the answer, and a zygote waiting for a core keeps its requester waiting): one per WORKERS_PER_ZYGOTE
# workers, started only when every other one is busy, so runs one at a time all go to the first.
WORKERS_PER_ZYGOTE = 3
_lock = threading.Lock()  # guards _zygotes and _down_until (held briefly: never across a request)
_zygotes: list[_Zygote] = []
_down_until = 0.0


def _most_zygotes() -> int:
    return max(1, -(-settings.SCHEDULER_MAX_WORKERS // WORKERS_PER_ZYGOTE))


def _start_zygote() -> _Zygote | None:
    """A new zygote in the pool (under _lock), or None (logged; runs spawn for RETRY_AFTER s)."""
    global _down_until
    zygote = _Zygote()
    if zygote.error is not None:
        log.error("Cannot start the fast-start fork server: %s", zygote.error)
        _down_until = time.monotonic() + RETRY_AFTER
        return None
    _zygotes.append(zygote)
    return zygote


def _tidy():
    """Under _lock: drop the zygotes that ended, start the successor of one that served RESTART_EVERY runs (in
    the background: it takes over once it has started, so no request waits for an interpreter's start) and
    retire it when its successor is ready."""
    global _down_until
    for zygote in list(_zygotes):
        if not zygote.alive():
            if zygote.runs < RESTART_EVERY:
                log.warning("The fast-start fork server ended; runs are spawned for %g s", RETRY_AFTER)
                _down_until = time.monotonic() + RETRY_AFTER
            zygote.retire()
            _zygotes.remove(zygote)
        elif zygote.runs >= RESTART_EVERY:
            if zygote.successor is None or not zygote.successor.alive():
                zygote.successor = _start_zygote() if time.monotonic() >= _down_until else None
                if zygote.successor is None:
                    continue  # none can start now: it serves on, and a successor is tried after RETRY_AFTER
            successor = zygote.successor
            # Its socket is read only with its lock held (a request may be waiting for its answer on it).
            taken_over = not successor.lock.acquire(blocking=False)
            if not taken_over:
                try:
                    taken_over = successor.is_ready()
                except OSError:
                    taken_over = True
                finally:
                    successor.lock.release()
            if taken_over and not zygote.lock.locked():
                zygote.retire()
                _zygotes.remove(zygote)


def _take() -> tuple[_Zygote | None, str]:
    """A zygote with its lock held, or (None, why the run is spawned)."""
    while True:
        with _lock:
            _tidy()
            # Started ones first, then the oldest: a run alone always goes to the same zygote.
            for zygote in sorted(_zygotes, key=lambda z: not z.ready):
                if zygote.lock.acquire(blocking=False):
                    return zygote, ""
            if len([z for z in _zygotes if z.runs < RESTART_EVERY]) < _most_zygotes() or not _zygotes:
                if time.monotonic() < _down_until:
                    if not _zygotes:
                        return None, "spawned: the fast-start fork server is down"
                else:
                    zygote = _start_zygote()
                    if zygote is None:
                        return None, "spawned: the fast-start fork server cannot start"
                    zygote.lock.acquire()
                    return zygote, ""
            busy = min(_zygotes, key=lambda z: z.runs)
        with busy.lock:  # every zygote busy and no room for another: wait for one, then pick again
            pass


def fork_shepherd(command, ctrl_r, out_fd, result_w) -> tuple[ForkedShepherd | None, str]:
    """(the forked shepherd, "") or (None, why the run is spawned instead)."""
    global _down_until
    if len(b"\0".join(str(w).encode() for w in command)) >= ROOM:
        return None, "spawned: its command line is too long for the fork server"
    zygote, why = _take()
    if zygote is None:
        return None, why
    try:
        return zygote.fork(command, ctrl_r, out_fd, result_w), ""
    except OSError as exc:
        log.warning("The fast-start fork server did not fork a shepherd (%s): the run is spawned", exc)
        zygote.abandon()
        with _lock:
            if zygote in _zygotes:
                _zygotes.remove(zygote)
            _down_until = time.monotonic() + RETRY_AFTER
        return None, f"spawned: the fast-start fork server failed ({exc})"
    finally:
        zygote.lock.release()


def warm_up() -> None:
    """At the scheduler's start, or ahead of a fast-start run: the run need not wait for a zygote's start."""
    with _lock:
        _tidy()
        if not _zygotes and time.monotonic() >= _down_until:
            _start_zygote()


def stop() -> None:
    """Retire the zygotes (tests, shutdown): each exits once the shepherds it started have ended."""
    global _down_until
    with _lock:
        for zygote in _zygotes:
            zygote.retire()
        _zygotes.clear()
        _down_until = 0.0


def _readable(fd, timeout) -> bool:
    if fd is None:
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))
