"""A daemon thread still busy when the script ends: `python script.py` stops it before clearing any module, so
it never sees the script's names gone; it says so if it does."""
import os
import threading
import time


def tick():
    return sum(range(1000))  # busy, never asleep: it holds the GIL whenever it can


def loop(write=os.write):
    while True:
        try:
            tick()
        except BaseException:
            write(1, b"the daemon thread saw the script's names cleared\n")
            raise


threading.Thread(target=loop, daemon=True).start()
time.sleep(0.05)
print("the last line")
