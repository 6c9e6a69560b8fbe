"""Writes $MEGABYTES (8) MiB into the file $BIG_FILE, 64 KiB at a time."""
import os

with open(os.environ["BIG_FILE"], "wb") as f:
    for _ in range(int(os.environ.get("MEGABYTES", "8")) * 16):
        f.write(b"\x02" * 65536)
print("wrote it all")
