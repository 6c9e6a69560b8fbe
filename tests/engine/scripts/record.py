"""Appends "<execution id> <pid>" to RECORD_FILE (one line per start: a run started twice shows twice), then
sleeps SLEEP seconds (default 0) and exits with EXIT (default 0). IGNORE_TERM=1: only SIGKILL ends it early."""
import os
import signal
import sys
import time

if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

with open(os.environ["RECORD_FILE"], "a") as f:
    f.write(f"{os.environ.get('TASK_EXECUTION_ID')} {os.getpid()}\n")
time.sleep(float(os.environ.get("SLEEP", "0")))
sys.exit(int(os.environ.get("EXIT", "0")))
