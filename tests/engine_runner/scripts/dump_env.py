"""Writes its whole environment, argv, sys.path[0] and cwd as JSON to the file named by $ENV_DUMP."""
import json
import os
import sys

with open(os.environ["ENV_DUMP"], "w", encoding="utf-8") as f:
    json.dump({"env": dict(os.environ), "argv": sys.argv, "path0": sys.path[0], "cwd": os.getcwd(),
               "name": __name__, "file": __file__}, f)
