"""Writes LINES numbered lines one at a time, each to its task log (TASK_LOG, in the log format) and to stdout with
the moment it was written, and after each waits until PACE_DIR/ack-<n> exists (at most 30 s), so a test sees
each line arrive before the next is written. SECRET, if set, is written in every line (it must be masked)."""
import logging
import os
import time
from pathlib import Path

lines = int(os.environ.get("LINES", "5"))
pace = Path(os.environ["PACE_DIR"])
secret = os.environ.get("SECRET", "")
logger = logging.getLogger("paced")
handler = logging.FileHandler(os.environ["TASK_LOG"], encoding="utf-8")
handler.setFormatter(logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s"))
logger.addHandler(handler)
logger.setLevel(logging.INFO)
for n in range(lines):
    stamp = time.time()
    logger.info("line %d of the log at %.3f with %s", n, stamp, secret)
    handler.flush()
    print(f"output line {n} at {stamp:.3f} with {secret}", flush=True)
    deadline = time.monotonic() + 30
    while not (pace / f"ack-{n}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
