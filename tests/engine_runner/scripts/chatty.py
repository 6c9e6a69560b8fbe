"""Writes $LINES numbered lines of 100 bytes to stdout, one line to stderr, and exits with $EXIT_CODE (0)."""
import os
import sys

for i in range(int(os.environ.get("LINES", "1000"))):
    sys.stdout.write(f"line {i:08d} ".ljust(99, "x") + "\n")
print("the end", file=sys.stderr)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
