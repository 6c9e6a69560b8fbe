"""The first run (MARK_FILE missing) starts a grandchild, writes both pids to MARK_FILE and sleeps SLEEP seconds
(default 60); every later run exits 0 at once. A retry of a run lost with its worker thus succeeds."""
import os
import subprocess
import sys
import time

mark = os.environ["MARK_FILE"]
if os.path.exists(mark):
    print(f"the first run was {open(mark).read().split()[0]}; this one succeeds")
    sys.exit(0)
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(mark + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {grandchild.pid}\n")
os.replace(mark + ".tmp", mark)
time.sleep(float(os.environ.get("SLEEP", "60")))
