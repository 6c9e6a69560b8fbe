"""Ignores SIGTERM and sleeps SLEEP seconds (default 60): only SIGKILL ends it before that."""
import os
import signal
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)  # a test waits for this line before it asks for a stop
time.sleep(float(os.environ.get("SLEEP", "60")))
