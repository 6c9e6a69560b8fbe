"""Sleeps SLEEP seconds (default 60), then exits 0."""
import os
import time

time.sleep(float(os.environ.get("SLEEP", "60")))
