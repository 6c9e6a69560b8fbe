#!/bin/sh
# Holds $MEGABYTES MiB in memory: tail keeps the whole "line" of zeros until its end.
head -c "$((MEGABYTES * 1048576))" /dev/zero | tail -n 1 > /dev/null || exit $?
echo "no limit stopped it"
