"""Small waits and process checks shared by the TaskExecutor tests."""
import os
import time


def wait_for(predicate, timeout, step=0.01, what="condition"):
    """Poll `predicate` until true; fail after `timeout` seconds. Returns the predicate's value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def process_exists(pid):
    """True if `pid` is a live process (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] != b"Z"


def group_exists(pgid):
    """True if a live process is in group `pgid`. Dead members that pid 1 has not reaped yet (zombies) do
    not count: here pid 1 reaps orphans only about every 2 s, so os.killpg(pgid, 0) still finds them."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != b"Z":
                return True
    return False
