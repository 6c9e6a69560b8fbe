"""Cgroups for runs: whether the engine may create them (detected once: cgroup v2 with the memory and pids
controllers, or the v1 memory and pids hierarchies, under the engine's own cgroup), and one run's cgroup:
created by the engine, joined by the run's shepherd (so that the script's process is born in it), watched
and emptied by the shepherd, removed by the engine after the shepherd exited, or by crash recovery.

The engine moves the shepherd in right after starting it: moving a process between cgroups waits for an
RCU grace period (about 13 ms here when no move happened just before), which then passes while the
shepherd's interpreter starts instead of delaying the script. Runs' cgroups are named
taskrun-<project token>-<execution id> (childenv.run_label), so a crash leaves nothing another scheduler
could mistake for its own."""
import functools
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from .childenv import run_label

log = logging.getLogger("SchedulerEngine")

PREFIX = "taskrun-"


@dataclass(frozen=True)
class CgroupSupport:
    version: int  # 1 or 2
    parents: tuple  # v2: (the folder runs are created in,); v1: (memory folder, pids folder)

    @property
    def mechanism(self) -> str:
        return f"cgroup-v{self.version}"


def _mountinfo():
    """[(mount point, root inside the hierarchy, file system type, super options)] of cgroup mounts."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((fields[4], fields[3], tail[0], set(tail[2].split(","))))
    return found


def _own_cgroups():
    """controller -> this process's cgroup path; "" is the v2 (unified) hierarchy."""
    own = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return own
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                own[controller] = parts[2]
    return own


def _folder(mount_point, mount_root, path) -> Path:
    if mount_root != "/" and path.startswith(mount_root):
        path = path[len(mount_root):]
    return Path(mount_point) / path.lstrip("/")


def _can_create_in(parent: Path) -> bool:
    probe = parent / f"{PREFIX}probe-{os.getpid()}-{threading.get_ident()}"
    try:
        probe.mkdir(exist_ok=True)
    except OSError:
        return False
    try:
        probe.rmdir()
    except OSError:
        return False
    return True


def _v1(mounts, own):
    folders = []
    for controller in ("memory", "pids"):
        mount = next((m for m in mounts if m[2] == "cgroup" and controller in m[3]), None)
        if mount is None or controller not in own:
            return None
        folder = _folder(mount[0], mount[1], own[controller])
        if not folder.is_dir() or not _can_create_in(folder):
            return None
        folders.append(folder)
    return CgroupSupport(1, tuple(folders))


def _v2(mounts, own):
    mount = next((m for m in mounts if m[2] == "cgroup2"), None)
    if mount is None or "" not in own:
        return None
    folder = _folder(mount[0], mount[1], own[""])
    try:
        controllers = set((folder / "cgroup.controllers").read_text().split())
    except OSError:
        return None
    if not {"memory", "pids"} <= controllers:
        return None
    if not _enable_controllers(folder):
        return None
    if not _can_create_in(folder):
        return None
    return CgroupSupport(2, (folder,))


def _enable_controllers(folder: Path) -> bool:
    """memory and pids for the cgroups created in `folder`. cgroup v2 allows that only in a cgroup without
    processes of its own, so an engine that is alone in its (delegated) cgroup moves into a leaf "engine"."""
    control = folder / "cgroup.subtree_control"
    try:
        if {"memory", "pids"} <= set(control.read_text().split()):
            return True
        control.write_text("+memory +pids")
        return True
    except OSError:
        pass
    try:
        members = (folder / "cgroup.procs").read_text().split()
        if members != [str(os.getpid())]:
            return False
        leaf = folder / "engine"
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(str(os.getpid()))
        control.write_text("+memory +pids")
        return True
    except OSError as exc:
        log.warning("Cannot enable the memory and pids controllers in %s: %s", folder, exc)
        return False


_detecting = threading.Lock()


@functools.cache
def _detect(mode: str):
    if mode == "off":
        return None
    mounts, own = _mountinfo(), _own_cgroups()
    support = _v2(mounts, own) or _v1(mounts, own)
    if support is None:
        log.info("No writable cgroup for runs: memory and process limits use setrlimit")
    else:
        log.info("Runs get their own cgroup (%s) under %s", support.mechanism,
                 ", ".join(str(p) for p in support.parents))
    return support


def support() -> CgroupSupport | None:
    """The cgroups runs can have here, detected on first use (settings.SCHEDULER_CGROUPS: auto / off)."""
    with _detecting:  # executor threads start runs at once: one detection, not several racing probes
        return _detect(settings.SCHEDULER_CGROUPS)


def run_spec(found: CgroupSupport, execution_id, memory, processes) -> dict:
    """One run's cgroup: folders, limit files to write (path, value, required), cgroup.procs files (to join
    and to list the run's processes) and event counters. pids.max counts the shepherd too: one more.
    Paths are built as text: this runs for every run, and pathlib's parsing cost more than the files' writes."""
    name = f"{PREFIX}{run_label(execution_id)}"
    pids_max = str(processes + 1) if processes else "max"
    if found.version == 2:
        folder = f"{found.parents[0]}/{name}"
        return {
            "version": 2, "dirs": [folder],
            "files": [[f"{folder}/memory.max", str(memory or "max"), True],
                      [f"{folder}/memory.swap.max", "0" if memory else "max", False],
                      [f"{folder}/pids.max", pids_max, True]],
            "procs": [f"{folder}/cgroup.procs"],
            "events": [["oom_kill", f"{folder}/memory.events", "oom_kill"],
                       ["pids_max", f"{folder}/pids.events", "max"]],
        }
    memory_dir, pids_dir = f"{found.parents[0]}/{name}", f"{found.parents[1]}/{name}"
    return {
        "version": 1, "dirs": [memory_dir, pids_dir],
        "files": [[f"{memory_dir}/memory.limit_in_bytes", str(memory or -1), True],
                  # Without swap accounting the file is missing: then swap is not limited.
                  [f"{memory_dir}/memory.memsw.limit_in_bytes", str(memory or -1), False],
                  [f"{pids_dir}/pids.max", pids_max, True]],
        "procs": [f"{memory_dir}/cgroup.procs", f"{pids_dir}/cgroup.procs"],
        "events": [["oom_kill", f"{memory_dir}/memory.oom_control", "oom_kill"],
                   ["pids_max", f"{pids_dir}/pids.events", "max"]],
    }


def _write(path: str, value: str) -> None:
    """One write of a cgroup file (the kernel takes a value in one write); OSError as Path.write_text's."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def create(spec: dict) -> None:
    """Make the run's cgroup with its limits; OSError (and nothing left) if it cannot be made."""
    try:
        for folder in spec["dirs"]:
            try:
                os.mkdir(folder)
            except FileExistsError:  # left by a run a crash interrupted
                pass
        for path, value, required in spec["files"]:
            try:
                _write(path, value)
            except OSError:
                if required:
                    raise
    except OSError:
        kill_and_remove(spec)
        raise


def join(spec: dict, pid: int) -> None:
    """Move process `pid` (the run's shepherd) into the run's cgroup."""
    for procs in spec["procs"]:
        _write(procs, str(pid))


def kill_and_remove(spec: dict | None, timeout: float = 5.0) -> int:
    """SIGKILL whatever is left in a run's cgroup (nothing after a shepherd that finished; the run of a
    shepherd that was killed, or of a dead scheduler) and remove it. Returns how many were killed.
    An empty cgroup is removed at once (rmdir refuses one that still has a process: EBUSY), without
    reading its members first: that is every run whose shepherd ended it."""
    if not spec:
        return 0
    if _removed(spec):
        return 0
    killed = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = set()
        for procs in spec["procs"]:
            try:
                with open(procs) as members:
                    pids.update(int(p) for p in members.read().split())
            except OSError:
                continue
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
        killed |= pids
        time.sleep(0.02)
    for folder in reversed(spec["dirs"]):
        for attempt in range(50):
            try:
                os.rmdir(folder)
                break
            except FileNotFoundError:
                break
            except OSError as exc:  # busy while the last processes leave it
                if attempt == 49:
                    log.warning("Could not remove the run's cgroup %s: %s", folder, exc)
                time.sleep(0.02)
    return len(killed)


def _removed(spec: dict) -> bool:
    """Remove the run's cgroup folders if they are empty; False (some may be left) if one is busy."""
    for folder in reversed(spec["dirs"]):
        try:
            os.rmdir(folder)
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return True


def clean_up_run(execution_id) -> int:
    """Crash recovery: the cgroup of a run a dead scheduler left, killed and removed (0 if there is none)."""
    found = support()
    if found is None:
        return 0
    spec = run_spec(found, execution_id, None, None)
    if not any(os.path.isdir(folder) for folder in spec["dirs"]):
        return 0
    return kill_and_remove(spec)
