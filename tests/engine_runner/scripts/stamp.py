"""Records when it started and ended (monotonic clock) in $STAMP_DIR/<execution id>, sleeping $SLEEP s between."""
import os
import time

path = os.path.join(os.environ["STAMP_DIR"], os.environ["TASK_EXECUTION_ID"])
start = time.monotonic()
with open(path + ".start", "w") as f:
    f.write(repr(start))
time.sleep(float(os.environ.get("SLEEP", "0.5")))
with open(path + ".end", "w") as f:
    f.write(repr(time.monotonic()))
