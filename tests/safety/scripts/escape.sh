#!/bin/sh
# Leaves a sleeper in a session of its own behind it (and, with STUBBORN, ignores SIGTERM itself), writes
# READY_FILE when it has started, then sleeps SLEEP seconds (0 by default) itself.
[ -n "$STUBBORN" ] && trap '' TERM
setsid sleep 600 </dev/null >/dev/null 2>&1 &
[ -n "$READY_FILE" ] && : > "$READY_FILE"
sleep "${SLEEP:-0}"
echo done
