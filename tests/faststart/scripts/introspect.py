"""Prints, as one JSON object, everything a run's process could tell apart between a forked and a spawned start."""
import sys

MODULES = sorted(sys.modules)  # before this script's own imports

import ctypes  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402

libc = ctypes.CDLL(None, use_errno=True)
pdeathsig = ctypes.c_int(0)
libc.prctl(2, ctypes.byref(pdeathsig), 0, 0, 0)  # PR_GET_PDEATHSIG
dumpable = libc.prctl(3, 0, 0, 0, 0)  # PR_GET_DUMPABLE

fds = {}
for name in sorted(os.listdir("/proc/self/fd"), key=int):
    try:
        fds[name] = os.readlink(f"/proc/self/fd/{name}")
    except OSError:
        pass
dispositions = {}
for sig in sorted(signal.valid_signals()):
    handler = signal.getsignal(sig)
    dispositions[signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)] = (
        handler if isinstance(handler, int) else getattr(handler, "__name__", repr(handler)))
with open("/proc/self/status") as f:
    status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
with open("/proc/self/cmdline", "rb") as f:
    cmdline = [w.decode() for w in f.read().split(b"\0")]
umask = os.umask(0)
os.umask(umask)
print(json.dumps({
    "name": __name__, "argv": sys.argv, "orig_argv": sys.orig_argv, "path0": sys.path[0], "path": sys.path,
    "cwd": os.getcwd(), "umask": umask, "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
    "groups": sorted(os.getgroups()), "sid_is_pid": os.getsid(0) == os.getpid(), "pgid_is_pid": os.getpgid(0) == os.getpid(),
    "signals": dispositions, "blocked": status.get("SigBlk"), "ignored": status.get("SigIgn"),
    "fds": fds, "env": dict(os.environ),
    "rlimits": {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_")},
    "random": random.random(), "hash_of_text": hash("fast start"), "flags": list(sys.flags),
    "hash_randomization": sys.flags.hash_randomization, "modules": MODULES,
    "cmdline": [w for w in cmdline if w], "comm": open("/proc/self/comm").read().strip(),
    "parent_comm": open(f"/proc/{os.getppid()}/comm").read().strip(), "pdeathsig": pdeathsig.value, "dumpable": dumpable,
    "executable": sys.executable, "file": __file__, "spec": repr(globals().get("__spec__")),
}, sort_keys=True))
