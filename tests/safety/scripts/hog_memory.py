"""Takes memory 1 MiB at a time (really used, not only reserved) up to $MEGABYTES (1024), then exits 0."""
import os

held = []
for _ in range(int(os.environ.get("MEGABYTES", "1024"))):
    held.append(b"\x01" * (1024 * 1024))
print(f"held {len(held)} MiB")
