"""Leaves a `sleep 600` behind in the background and exits 0 at once; writes its pid to $PIDS_FILE."""
import os
import subprocess

child = subprocess.Popen(["sleep", "600"], start_new_session=False)
with open(os.environ["PIDS_FILE"], "w") as f:
    f.write(f"{child.pid}\n")
