"""Says it started (to stdout and, if set, by creating $READY_FILE), then sleeps for $SLEEP seconds (600)."""
import os
import time

print("sleeping", flush=True)
if os.environ.get("READY_FILE"):
    open(os.environ["READY_FILE"], "w").close()
time.sleep(float(os.environ.get("SLEEP", "600")))
