"""What the engine runs to start the fork server of fast start (shepherd/zygote.py): `python -E -s -u -X utf8
run_zygote.py <room>`, beside run_shepherd.py so that sys.path[0] is the same for a forked shepherd as for a
spawned one. The last argument is blank room the forks write their shepherd's command line over."""
import gc
import os

from shepherd import main, zygote

gc.freeze()  # the forks share these pages with the zygote until they write to them
if zygote.serve() != zygote.FORKED:
    os._exit(0)
# A fork, set up as a shepherd: from here on as run_shepherd.py (the script's end is the interpreter's own).
main.launch(forked=True)
