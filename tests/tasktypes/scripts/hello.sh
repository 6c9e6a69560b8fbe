#!/bin/sh
# Prints its arguments' world: who runs it, where, with which environment.
echo "hello from sh $$"
echo "TASK_ID=$TASK_ID DAY=${DAY:-none}"
echo "secret: $DB_PASSWORD"
echo "on stderr" >&2
yes | head -n 2
exit "${EXIT_CODE:-0}"
