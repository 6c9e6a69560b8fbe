"""Starts a grandchild that sleeps 10 minutes, writes both pids to PIDS_FILE, then sleeps SLEEP seconds."""
import os
import subprocess
import sys
import time

grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(os.environ["PIDS_FILE"], "w") as f:
    f.write(f"{os.getpid()} {grandchild.pid}\n")
time.sleep(float(os.environ.get("SLEEP", "600")))
