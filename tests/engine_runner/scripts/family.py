"""Starts two grandchildren (`sleep 600`, and a Python that ignores SIGTERM), writes their pids to
$PIDS_FILE, then ignores SIGTERM itself and sleeps: only SIGKILL to the whole group ends this family."""
import os
import signal
import subprocess
import sys
import time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
sleeper = subprocess.Popen(["sleep", "600"])
stubborn = subprocess.Popen([sys.executable, "-c",
                             "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
tmp = os.environ["PIDS_FILE"] + ".tmp"
with open(tmp, "w") as f:
    f.write(f"{os.getpid()} {sleeper.pid} {stubborn.pid}\n")
os.rename(tmp, os.environ["PIDS_FILE"])
time.sleep(600)
