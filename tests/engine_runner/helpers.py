"""Small waits and process checks shared by the TaskExecutor tests."""
import os

from tests.engine.conftest import process_alive as process_exists  # noqa: F401
from tests.engine.conftest import wait_for  # noqa: F401


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


def open_files() -> set:
    """What this process's descriptors lead to."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            found.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            pass
    return found
