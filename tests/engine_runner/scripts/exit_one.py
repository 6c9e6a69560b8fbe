"""Prints a line on each stream and exits 1."""
import sys

print("about to fail")
print("something went wrong", file=sys.stderr)
sys.exit(1)
