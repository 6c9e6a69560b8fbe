"""What a script running as the scheduler's own user can do: leave an escaped sleeper (setsid, double fork),
then SIGKILL its shepherd (its parent) and sleep on, hoping to outlive the run."""
import os
import signal
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "600"])
    os._exit(0)
os.wait()
os.kill(os.getppid(), signal.SIGKILL)
time.sleep(600)
