"""Leaves a sleeper that escaped its process group: fork, setsid(), fork again and let the middle process
exit, so the sleeper has no parent of the run and a session of its own; it ignores SIGTERM. Then the
script creates $READY_FILE (if set) and sleeps $SLEEP seconds (0), ignoring SIGTERM too if $STUBBORN."""
import os
import signal
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stays ignored across exec: only SIGKILL ends it
        os.execvp("sleep", ["sleep", "600"])
    os._exit(0)
os.wait()
if os.environ.get("STUBBORN"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.environ.get("READY_FILE"):
    open(os.environ["READY_FILE"], "w").close()
print("left a sleeper behind", flush=True)
time.sleep(float(os.environ.get("SLEEP", "0")))
