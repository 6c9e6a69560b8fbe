"""Prints a first line (with its secret DB_PASSWORD), waits until $GO_FILE exists (20 s at most), prints a
last line without a newline."""
import os
import sys
import time

print("first line", os.environ.get("DB_PASSWORD", ""), flush=True)
print("to stderr", file=sys.stderr, flush=True)
deadline = time.monotonic() + 20
while not os.path.exists(os.environ["GO_FILE"]) and time.monotonic() < deadline:
    time.sleep(0.02)
sys.stdout.write("last line")
