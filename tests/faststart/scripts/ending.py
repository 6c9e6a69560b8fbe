"""Leaves work for the end of the interpreter: a non-daemon thread still running, an atexit callback, a file left
open with buffered data, an object whose __del__ prints, C stdio output still buffered, and an exit code."""
import atexit
import ctypes
import os
import sys
import threading
import time

left_open = open(os.environ["LEFT_OPEN"], "w")
left_open.write("written, never closed\n")


class Noisy:
    def __del__(self):
        print("__del__ of a module-level object")


noisy = Noisy()


def later():
    time.sleep(0.3)  # still running when the script's last line has run
    print("the non-daemon thread finished")


threading.Thread(target=later).start()
atexit.register(print, "the atexit callback")
ctypes.CDLL(None).printf(b"C stdio output\n")
print("the last line")
sys.exit(int(os.environ["EXIT_CODE"]))
