"""The new interpreter of a run without fast start whose shepherd the fork server forked (shepherd/child.py
executes it in the script's process, once set up): `python -E -s -u -X utf8 run_fresh_script.py [<control fd>
<go fd>] <script>`. It runs the script as `python script.py` would (shepherd/script.py, the one module it imports
for it), with the signals a forked script's process has (SIGXFSZ ends the script, where Python ignores it), and
finds in sys.modules only what the interpreter had before this file's imports. A run held for its slot (the two
descriptors) waits for the slot here, so that the slot waits for no interpreter's start."""
import sys

SEEN = set(sys.modules)

import _signal  # noqa: E402

from shepherd.script import run_script  # noqa: E402

_signal.signal(_signal.SIGXFSZ, _signal.SIG_DFL)
script = sys.argv[-1]
held = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) == 4 else None
sys.orig_argv[:] = [*sys.orig_argv[:-len(sys.argv)], script]  # as `python -E -s -u -X utf8 script.py` shows it
run_script(script, [script], held, SEEN)
