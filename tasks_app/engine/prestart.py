"""A run held for its slot gets its shepherd at its preparation (preparation.prepare_early, up to half a second
before the slot): started (spawned, or forked by the zygote) and moved into the run's cgroup then, which costs
an interpreter's start and a cgroup move (an RCU grace period on cgroup v1). Its spec is sent then too (held): the
shepherd forks the script's process and sets it up (session, limits, user, environment, descriptors), which then
waits for the slot, when runner.py only writes "go". Closing the control pipe instead (Preparation.discard, or the
engine's end, even by kill -9) makes the shepherd kill that process, which never ran the script, and exit."""
import logging
import queue
import subprocess
import threading
from concurrent.futures import Future

from .childenv import command
from .forkserver import wanted as fast_start_wanted
from .shepherd_link import ShepherdGone, ShepherdLink

log = logging.getLogger("TaskExecutor")

_requests = queue.SimpleQueue()  # (future, function, arguments) for the starter thread
_starter = None
_lock = threading.Lock()


def start_ahead(execution, prep) -> None:
    """prep.link: the run's shepherd, started now. If it cannot be, prep.link stays None and the run starts its
    shepherd at its slot like any other (which then says why, if it still cannot)."""
    ready = prep.cgroup_ready
    prep.cgroup_given()  # the link removes it from here on (launch too, if it fails)
    try:
        prep.link = _in_starter(ShepherdLink.launch, command(prep.script, execution.execution_id), prep.out_fd,
                                prep.plan.cgroup, fast_start_wanted(execution.task), prep.run_as is not None, ready,
                                prep.argv is not None)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        log.warning("Execution %s: its shepherd could not be started ahead of its slot (%s); it starts at the "
                    "slot", execution.execution_id, exc)
        return
    try:
        # Its spec too: the shepherd forks and sets up the script's process now, and the script starts at go().
        prep.link.send(prep.spec(), hold=True)
    except ShepherdGone as exc:  # the link is closed (its cgroup removed): the run starts at its slot as any other
        prep.link = None
        log.warning("Execution %s: its shepherd started ahead of its slot is gone (%s); it starts at the slot",
                    execution.execution_id, exc)


def go(execution, prep) -> bool:
    """At the slot: the held run's script starts (prep.link.went says when). A shepherd that died meanwhile is
    dropped (its link closed, its cgroup removed) and False returned: the run starts another at its hand-over, as
    if none had been started ahead."""
    try:
        prep.link.go()
    except ShepherdGone as exc:
        prep.link = None
        log.warning("Execution %s: the shepherd started ahead of its slot is gone (%s); another is started",
                    execution.execution_id, exc)
        return False
    return True


def _in_starter(function, *args):
    """function(*args) in the starter thread, which lives as long as the engine's process: a spawned shepherd's
    parent-death signal (shepherd/main.py) fires when the thread that spawned it ends, and the thread preparing
    a run (the engine's loop, a test's) may end before the run does."""
    global _starter
    with _lock:
        if _starter is None or not _starter.is_alive():
            _starter = threading.Thread(target=_serve, name="shepherd-starter", daemon=True)
            _starter.start()
    future = Future()
    _requests.put((future, function, args))
    return future.result()


def _serve():
    while True:
        future, function, args = _requests.get()
        try:
            future.set_result(function(*args))
        except BaseException as exc:  # noqa: BLE001 (raised again in the thread that asked)
            future.set_exception(exc)
