"""Prints, as one JSON line, what its own interpreter was started with, after doing what an injected
PYTHON* variable would hook into: importing modules, a warning, the end of the script."""
import json
import logging
import sys
import warnings

warnings.warn("a warning, as a script may raise one")
logging.getLogger("x").warning("a log line")
print(json.dumps({"ignore_environment": sys.flags.ignore_environment, "no_user_site": sys.flags.no_user_site,
                  "utf8_mode": sys.flags.utf8_mode, "path": sys.path, "stdout_encoding": sys.stdout.encoding,
                  "modules": sorted(m for m in sys.modules if m in ("antigravity", "shepherd", "django", "tasks_app"))}))
