"""Sleeps SLEEP seconds (default 60), then exits with EXIT (default 0)."""
import os
import sys
import time

time.sleep(float(os.environ.get("SLEEP", "60")))
sys.exit(int(os.environ.get("EXIT", "0")))
