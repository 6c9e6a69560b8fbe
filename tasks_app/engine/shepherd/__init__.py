"""The shepherd: one small process per run that starts the task's script and makes sure nothing the script
starts outlives the run. It imports no Django (the engine starts it in a clean interpreter) and only
builtin modules that cost nothing to import, because its start is part of every run's launch time. Its
modules import each other relatively: the shepherd loads this package as `shepherd`, the engine (which
uses its process helpers) as `tasks_app.engine.shepherd`.

The engine starts it through run_shepherd.py, `python -E -s -u -X utf8 run_shepherd.py <run label>
<script>` (the arguments only say in `ps` what it supervises), with stdin = a control pipe, stdout and
stderr = the run's output file, and one more descriptor, the result pipe. For a task with secrets the script
writes into a pipe instead, which the shepherd masks into the output file (masked.py). It reads one JSON line (the
spec) from the control pipe, becomes a child subreaper (every orphan of the run becomes its child), forks
the script's process (child.py; for a spec that says "hold", sent at the run's preparation ahead of its slot,
that process is set up and then waits for the "go" line the engine sends at the slot before it runs the script),
and then waits for (run.py): the script's end, "term <grace>" on the
control pipe (a stop or a timeout), the end of the control pipe (the engine died, even by kill -9) or a
signal (SIGHUP is its parent-death signal). Whatever happens, it kills every process of the run (the
run's cgroup and its own subtree in /proc, round after round until none is left), writes one JSON result
line and exits.

The script runs in the forked process itself, exactly as `python script.py` would run it (a second
interpreter start would cost about 10 ms of CPU per run): own session, the run's cgroup, resource limits,
the run's user and groups, parent-death signal, default signal dispositions, only fds 0-2, the task's
environment."""
