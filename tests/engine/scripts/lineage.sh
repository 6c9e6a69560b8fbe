#!/bin/sh
# Writes to $LINEAGE_FILE the name of its parent (its shepherd) and of its shepherd's parent (a fork server, or
# the process that spawned the shepherd).
shepherd=$PPID
parent=$(cut -d' ' -f4 "/proc/$shepherd/stat")
echo "$(cat "/proc/$shepherd/comm") $(cat "/proc/$parent/comm")" > "$LINEAGE_FILE"
