"""The shepherd's start: the spec, the subreaper and parent-death signal, the fork, and the report."""
import gc
import os

from .child import GO, become_script, before_the_fork
from .run import SIGHUP, Run
from .sysio import PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, loads, prctl, read_line, set_name, write_file


def main(forked=False):
    spec_line, rest = read_line(0, b"")
    if spec_line is None:
        return 0  # the engine went away before sending anything
    spec = loads(spec_line)
    run = Run(spec, spec["result_fd"])
    run.ctrl_buffer = rest
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    # Not SIGKILL: the shepherd must still kill its run when the engine's thread dies, or the run's
    # setsid()'d grandchildren would escape. The engine's end also closes the control pipe, which is all a
    # shepherd forked by the zygote (zygote.py) watches: its parent is the zygote, whose end (a restart, a
    # crash) must not end the runs it started.
    if not forked:
        prctl(PR_SET_PDEATHSIG, SIGHUP)
    run.install_signals()
    set_name("task-shepherd")
    try:  # the kernel's OOM killer, when the run's cgroup is full, picks one of the run's processes instead
        write_file("/proc/self/oom_score_adj", "-1000")
    except OSError:  # only root may: then an OOM kill of the shepherd is handled by the engine
        pass
    if spec.get("mask"):
        # Only a task with secrets needs it: a spawned shepherd of any other run does not load it.
        from .masked import MaskedOutput

        try:
            run.masked = MaskedOutput(spec["mask"])
        except Exception as exc:  # no run at all rather than one whose secrets would reach the output file
            message = run.result()
            message["setup_error"] = f"cannot set up the masking of its secrets: {exc!r}"
            run.report(message)
            return 0
    ready_r, ready_w = os.pipe()
    # A run held for its slot (its spec sent at its preparation, ahead of the slot) gets its script's process
    # forked and set up now; the script itself starts when the engine says "go" (at the slot), through this pipe.
    go_r, go_w = os.pipe() if spec.get("hold") else (None, None)
    run.go_r = go_r
    before_the_fork()
    # The script's process shares the shepherd's memory until it writes to it; frozen objects are never
    # walked by its garbage collector, which saves copying pages the script never uses.
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        become_script(run, ready_w)
        return None  # the script ended normally: the interpreter exits as it would
    run.child = pid
    os.close(ready_w)
    if go_r is not None:
        os.close(go_r)
    if run.masked:
        run.masked.in_shepherd()
    failure = b""
    while True:
        chunk = os.read(ready_r, 4096)
        if not chunk:
            break
        failure += chunk
    os.close(ready_r)
    if failure:
        run.kill_all()
        run.reap()
        message = run.result()
        message["setup_error"] = failure.decode(errors="replace")
    else:
        went = go_w is None or run.wait_go()
        if go_w is not None:
            if went:
                try:
                    os.write(go_w, GO)
                except BrokenPipeError:  # it started on the engine's "go" already (child.py), or it is gone
                    pass
            os.close(go_w)  # not gone: its process exits without running the script (and is killed anyway)
        if went:
            run.report({"event": "started", "pid": pid, "cgroup": run.cgroup["version"] if run.cgroup else None,
                        "cgroup_error": run.cgroup_error})
        run.supervise()
        message = run.result()
    if run.masked:  # the output is complete before the engine hears of the end (it reads the output's tail)
        run.masked.finish(wait=2.0)
    if run.aborted and run.engine_gone(wait=2.0):  # else the engine removes the cgroup once we exited
        run.leave_and_remove_cgroup()
    run.report(message)
    return 0


def launch(forked=False):
    """run_shepherd.py's entry point (and the zygote's fork's). In the script's process main() returns None once
    the script ended normally: the interpreter then exits as it would after `python script.py`."""
    code = main(forked)
    if code is not None:
        os._exit(code)
