"""A held run's script in a new interpreter (a run without fast start whose shepherd the fork server forked;
shepherd/child.py execs it before the slot): `python -E -s -u -X utf8 run_held_script.py <control fd> <go fd>
<script>`. It waits for the slot, then runs the script as `python script.py` would (shepherd.child.run_script),
so that the slot waits for no interpreter's start. The script finds in sys.modules only what the interpreter
had before this file's imports, as it would after `python script.py`."""
import sys

SEEN = set(sys.modules)

from shepherd.child import run_script  # noqa: E402

ctrl, go, script = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sys.orig_argv[:] = [*sys.orig_argv[:-4], script]  # as `python -E -s -u -X utf8 script.py` shows it
run_script(script, [script], (ctrl, go), SEEN)
