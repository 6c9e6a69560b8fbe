"""Finding every process below the shepherd in /proc, by parentage."""
import os

from .sysio import read_text


def children_files_work():
    me = os.getpid()
    return os.path.exists(f"/proc/{me}/task/{me}/children")


def children_of(pid):
    """Pids whose parent is `pid`, from /proc/<pid>/task/*/children."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        found.extend(int(p) for p in read_text(f"/proc/{pid}/task/{tid}/children").split())
    return found


def _parents():
    """pid -> parent pid of every process, from /proc/*/stat (kernels without the children files)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_text(f"/proc/{name}/stat")
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 1:
                parents[int(name)] = int(fields[1])
    return parents


def descendants(root, use_children_files):
    """Every process below `root` by parentage. As a subreaper, an orphan of the run is re-parented to
    root, so this finds even what called setsid() and forked twice."""
    if use_children_files:
        found, stack = [], [root]
        while stack:
            for child in children_of(stack.pop()):
                found.append(child)
                stack.append(child)
        return found
    parents = _parents()
    below = {}
    for pid, parent in parents.items():
        below.setdefault(parent, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in below.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return found


def is_zombie(pid):
    stat = read_text(f"/proc/{pid}/stat")
    return not stat or stat[stat.rfind(")") + 2:stat.rfind(")") + 3] in ("Z", "X")
