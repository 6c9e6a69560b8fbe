"""Process groups: is one still there, end it (SIGTERM, then SIGKILL after a grace), and kill what a dead
scheduler left behind. Every task's script runs in its own session, so its pid is also its group id. The
shepherd does this for a run; the engine uses it when a shepherd is gone, and in crash recovery."""
import os
import signal
import time

ZOMBIE_CHECK_AFTER = 0.2  # seconds after SIGKILL before /proc is scanned for members that are only zombies


def members(pgid: int) -> list[tuple[int, str]]:
    """(pid, state letter) of every process in group `pgid`, read from /proc."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces or ')': parse after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            found.append((int(name), fields[0].decode()))
    return found


def group_alive(pgid: int, ignore_zombies: bool = False) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not ignore_zombies:
        return True
    # Zombies stay in the group until their new parent (pid 1) reaps them; some init processes never do.
    return any(state != "Z" for _, state in members(pgid))


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def end_group(pgid: int, grace: float, reap=None, step: float = 0.01, kill_wait: float = 5.0) -> bool:
    """SIGTERM the group, SIGKILL it after `grace` seconds, and wait until it is empty.

    `reap` (e.g. Popen.poll) is called while waiting, so the group's leader does not linger as our zombie.
    Returns True if SIGKILL was needed."""
    def gone(ignore_zombies=False):
        if reap is not None:
            reap()
        return not group_alive(pgid, ignore_zombies)

    if not signal_group(pgid, signal.SIGTERM) and gone():
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if gone():
            return False
        time.sleep(step)
    signal_group(pgid, signal.SIGKILL)
    started = time.monotonic()
    while time.monotonic() - started < kill_wait:
        if gone(ignore_zombies=time.monotonic() - started > ZOMBIE_CHECK_AFTER):
            break
        time.sleep(step)
    return True


def kill_process_group(pgid: int, execution_id: int | None = None) -> bool:
    """SIGKILL a group left by a scheduler that died (crash recovery). True if something was killed.

    With `execution_id`, the group is killed only if one of its processes carries that
    TASK_EXECUTION_ID, so a pid the system has since reused for someone else's group is left alone."""
    if not pgid or pgid <= 1 or pgid == os.getpgrp():
        return False
    if not group_alive(pgid, ignore_zombies=True):
        return False
    if execution_id is not None and not _carries(pgid, execution_id):
        return False
    return signal_group(pgid, signal.SIGKILL)


def _carries(pgid: int, execution_id: int) -> bool:
    """A member has this run's TASK_EXECUTION_ID in its environment, or is the script's own process (a fork
    of its shepherd, whose command line carries the run's label)."""
    wanted = f"TASK_EXECUTION_ID={execution_id}".encode()
    for pid, _ in members(pgid):
        if is_shepherd_of(pid, execution_id):
            return True
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if wanted in f.read().split(b"\0"):
                    return True
        except OSError:
            continue
    return False


def is_shepherd_of(pid: int, execution_id: int) -> bool:
    """`pid`'s command line is this project's shepherd for that run (or the script's process, its fork)."""
    from .childenv import SHEPHERD, run_label

    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    shepherd, label = str(SHEPHERD).encode(), run_label(execution_id).encode()
    return any(arg == shepherd and args[i + 1:i + 2] == [label] for i, arg in enumerate(args))


def kill_stray_shepherds(execution_id: int) -> int:
    """Crash recovery: a shepherd of that run still there (stopped, or stuck) and every process below it.
    Those below die first, round after round, while the shepherd, a subreaper, still collects the orphans;
    then the shepherd. Returns how many processes were killed."""
    from .shepherd.procs import descendants

    killed = set()
    for last_round in (False, True):
        for _ in range(250):
            matches = {int(name) for name in os.listdir("/proc")
                       if name.isdigit() and is_shepherd_of(int(name), execution_id)}
            below = {pid for match in matches for pid in descendants(match, True)}
            victims = {pid for pid in (matches | below if last_round else below) if _state(pid) not in "ZX"}
            if not victims:
                break
            for pid in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    continue
            killed |= victims
            time.sleep(0.02)
    return len(killed)


def _state(pid: int) -> str:
    """The state letter of a process; "X" for one that is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return "X"
    return stat[stat.rfind(b")") + 2:].split()[0].decode()
