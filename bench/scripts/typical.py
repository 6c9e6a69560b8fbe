import time; _STAMP_NS = time.time_ns()  # noqa: E702  first instruction: when the script started
"""The "Python script" of the benchmarks: records when it started, then does what a small job does
(imports a few standard modules, reads its environment, logs a line as JSON)."""
import argparse  # noqa: F401
import datetime
import json
import logging
import os
import pathlib

_dir = os.environ.get("BENCH_STAMP_DIR")
if _dir:
    with open(os.path.join(_dir, f"{os.environ.get('TASK_ID', 'bare')}.{os.getpid()}"), "w") as f:
        f.write(f"{_STAMP_NS} {os.environ.get('TASK_ID', '')} {os.environ.get('TASK_EXECUTION_ID', '')}\n")
logging.basicConfig(level=logging.INFO, format="%(asctime)s - %(levelname)s - %(message)s")
logging.getLogger("bench").info(
    json.dumps({"now": datetime.datetime.now(datetime.timezone.utc).isoformat(), "cwd": str(pathlib.Path.cwd())})
)
