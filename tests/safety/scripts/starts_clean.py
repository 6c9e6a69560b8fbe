"""Prints, as one JSON line, what the script's process starts with that its shepherd could have left behind: the
modules before the script's own imports, and the signals the kernel has it ignore, catch or block."""
import sys

MODULES = sorted(sys.modules)  # before this script's own imports

import json  # noqa: E402

with open("/proc/self/status") as f:
    status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
print(json.dumps({"modules": MODULES, "ignored": int(status["SigIgn"], 16), "caught": int(status["SigCgt"], 16),
                  "blocked": int(status["SigBlk"], 16)}))
