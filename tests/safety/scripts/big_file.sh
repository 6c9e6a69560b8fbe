#!/bin/sh
# Becomes a writer of 8 MiB into $BIG_FILE.
exec head -c 8388608 /dev/zero > "$BIG_FILE"
