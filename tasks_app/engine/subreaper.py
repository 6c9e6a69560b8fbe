"""The scheduler process as a child subreaper: when a run's shepherd dies before its run ended (a script
running as the scheduler's own user may kill it), the run's processes are re-parented to the scheduler
instead of init, and the runner kills and reaps them here. Only children the runner did not start are
touched: a shepherd's own exit is left to its Popen.

Also marks the scheduler non-dumpable, so that no script can read its memory or its /proc files (its
environment holds the database password and the secret key)."""
import contextlib
import logging
import os
import signal
import threading
import time

from .shepherd.procs import descendants
from .shepherd.sysio import PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, prctl

log = logging.getLogger("TaskExecutor")

_lock = threading.Lock()
_started: set[int] = set()
_active = False


def harden_engine_process() -> None:
    """At the start of runscheduler (not at import): become a child subreaper and non-dumpable."""
    global _active
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_DUMPABLE, 0)
    _active = True


@contextlib.contextmanager
def spawning():
    """`with spawning() as register:` around starting a shepherd, then register(pid): a sweep never sees
    a just-started shepherd as an orphan."""
    with _lock:
        yield _started.add


def forget(pid: int) -> None:
    """After the runner reaped its shepherd."""
    with _lock:
        _started.discard(pid)


def _children() -> list[int]:
    me = os.getpid()
    found = []
    try:
        threads = os.listdir(f"/proc/{me}/task")
    except OSError:
        return found
    for tid in threads:
        try:
            with open(f"/proc/{me}/task/{tid}/children") as f:
                found.extend(int(pid) for pid in f.read().split())
        except OSError:
            continue
    return found


def sweep(timeout: float = 10.0) -> int:
    """Kill and reap every child of the scheduler that the runner did not start (orphans of a run whose
    shepherd died) and everything below them, until none is left. Returns how many were killed."""
    if not _active:
        return 0
    killed = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _lock:
            orphans = [pid for pid in _children() if pid not in _started]
            for pid in orphans:
                for victim in [pid] + descendants(pid, True):
                    try:
                        os.kill(victim, signal.SIGKILL)
                        killed.add(victim)
                    except OSError:
                        continue
        if not orphans:
            break
        for pid in orphans:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
        time.sleep(0.01)
    if killed:
        log.warning("Killed %d process(es) a run left after its shepherd died", len(killed))
    return len(killed)
