"""Prints, as one JSON object, where its process comes from: its interpreter's modules, hash seed and command
line, its parent and its parent's parent."""
import sys

MODULES = sorted(sys.modules)  # before this script's own imports

import json  # noqa: E402
import os  # noqa: E402


def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.index("(") + 1:text.rindex(")")], int(text[text.rindex(")") + 2:].split()[1])


parent_comm, grandparent = stat(os.getppid())
with open("/proc/self/cmdline", "rb") as f:
    cmdline = [w.decode() for w in f.read().split(b"\0") if w]
print(json.dumps({
    "modules": MODULES, "hash_of_text": hash("fast start"), "hash_randomization": sys.flags.hash_randomization,
    "cmdline": cmdline, "orig_argv": sys.orig_argv, "argv": sys.argv, "parent_comm": parent_comm,
    "grandparent": grandparent, "file": __file__,
    "dumpable": __import__("ctypes").CDLL(None).prctl(3, 0, 0, 0, 0),  # PR_GET_DUMPABLE
}))
