"""Writes $LINES numbered lines of 100 bytes to stdout (and one to stderr at the end)."""
import os
import sys

for i in range(int(os.environ.get("LINES", "1000"))):
    sys.stdout.write(f"line {i:08d} ".ljust(99, "x") + "\n")
print("the end", file=sys.stderr)
