"""Forks without waiting until fork() fails; the children sleep. As a safety net for the machine, it stops
by itself after 300 processes (then exits 0), which is far above the limits the tests set."""
import time
import os

children = []
for _ in range(300):
    pid = os.fork()
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    children.append(pid)
print(f"forked {len(children)} processes and no limit stopped it")
