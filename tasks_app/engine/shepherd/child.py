"""The script's process: forked by the shepherd, set up (session, cgroup, limits, user, parent-death signal,
signals, descriptors, environment), then the script runs in it as `python script.py` would run it; or, in a
shepherd the fork server forked for a run without fast start (spec "fresh"), it execs a new interpreter for the
script, as it execs a shell task's command (spec "exec")."""
import os
import sys

import _signal

from .run import SIGINT, SIGKILL
from . import script
from .script import HERE, SETUP_FAILED, run_script, wait_for_the_slot
from .sysio import PR_SET_DUMPABLE, PR_SET_PDEATHSIG, libc_exit, prctl, set_name, write_file

# A new interpreter for the script (spec "fresh"): it runs the script as `python script.py` would (script.py).
FRESH_SCRIPT = os.path.join(os.path.dirname(HERE), "run_fresh_script.py")
script.EXIT = libc_exit


def become_script(run, ready_w):
    """In the forked child: set up the process, tell the shepherd it worked (by closing ready_w), then run
    the script. Never returns to the shepherd's code."""
    spec = run.spec
    step = "start its own session"
    try:
        os.setsid()
        step = "set its resource limits"
        if os.geteuid() == 0:  # born in the run's cgroup; not protected from its OOM killer like the shepherd
            write_file("/proc/self/oom_score_adj", "0")
        import resource

        for name, soft, hard in spec["rlimits"] + ([] if run.cgroup else spec["fallback_rlimits"]):
            resource.setrlimit(getattr(resource, name), (soft, hard))
        # The folder is entered before the user changes: the run starts where the engine says even if
        # the user may not list it.
        step = f"enter {spec['cwd']}"
        os.chdir(spec["cwd"])
        user = spec.get("user")
        if user:
            step = f"switch to user {user['name']}"
            os.setgroups(user["groups"])
            os.setgid(user["gid"])
            os.setuid(user["uid"])
            if os.getuid() != user["uid"] or os.geteuid() != user["uid"] or os.getegid() != user["gid"]:
                raise OSError("the user did not change")
        if spec.get("umask") is not None:
            os.umask(spec["umask"])
        # Changing credentials clears the parent-death signal and the dumpable flag: set both after.
        step = "arm its parent-death signal"
        prctl(PR_SET_PDEATHSIG, SIGKILL)
        if os.getppid() != run.me:
            os._exit(SETUP_FAILED)  # the shepherd died before the signal was armed
        if not (spec.get("exec") or spec.get("fresh")):
            # The script may read its own /proc/self. A command is made dumpable by its exec (unless it is
            # unreadable or set-user-ID); until then this process may hold the fork server's memory, which a
            # run-as user's other processes must not read (forkserver.py).
            prctl(PR_SET_DUMPABLE, 1)
        step = "reset its signals"
        _signal.set_wakeup_fd(-1)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
        for sig in _signal.valid_signals():
            # Also what the scheduler's own parent ignored (a shell's background job ignores SIGINT), and
            # SIGXFSZ, which Python ignores: a file size limit then ends the script with a signal that
            # names it, instead of an error the script may swallow.
            if sig not in (SIGKILL, _signal.SIGSTOP, _signal.SIGPIPE):
                try:
                    _signal.signal(sig, _signal.SIG_DFL)
                except (OSError, ValueError):
                    pass
        _signal.signal(SIGINT, _signal.default_int_handler)  # as Python sets it: KeyboardInterrupt
        set_name(os.path.basename(spec["script"]))
        step = "set up its descriptors and environment"
        null = os.open("/dev/null", os.O_RDONLY)
        # A held run also watches the engine's control pipe: its "go" wakes this process with the shepherd.
        held = (os.dup(0), run.go_r) if run.go_r is not None else None
        os.dup2(null, 0)
        if run.masked:  # stdout and stderr into the shepherd's masking pipe instead of the output file
            run.masked.in_script()
        # As os.environ.clear() and update() would, without going through the whole mapping protocol for each
        # variable (0.4 ms of a fork's CPU, most of it pages of the shepherd's memory copied on write): unset
        # every variable and empty the mapping's own dictionary (bytes keys), which os.environ reads and writes
        # through, then set each of the task's as os.environ's __setitem__ does.
        environ = os.environ
        data = environ._data
        for key in list(data):
            os.unsetenv(key)
        data.clear()
        for key, value in spec["env"].items():
            key, value = environ.encodekey(key), environ.encodevalue(value)
            os.putenv(key, value)
            data[key] = value
        # What the interpreter read from the shepherd's environment at its start is read again from the task's.
        if "time" in sys.modules:
            sys.modules["time"].tzset()
        try:
            import _locale

            _locale.setlocale(_locale.LC_CTYPE, "")
        except Exception:  # a locale the machine does not have: Python itself carries on the same way
            pass
        # Everything but 0-2 and the descriptors kept, by close_range(2) (os.closerange): as the fork server
        # closes its forks' (zygote.py), without listing /proc/self/fd.
        low = 3
        for kept in sorted({ready_w, *(held or ())}):
            os.closerange(low, kept)
            low = max(low, kept + 1)
        os.closerange(low, 1 << 20)
    except BaseException as exc:
        try:
            os.write(ready_w, f"cannot {step}: {exc}".encode(errors="replace"))
        finally:
            os._exit(SETUP_FAILED)
    os.close(ready_w)
    if spec.get("exec"):
        if held:
            wait_for_the_slot(*held)
        exec_command(spec["exec"])
    if spec.get("fresh"):
        # A new interpreter: its own hash seed and address-space layout, nothing of the fork server's or the
        # shepherd's memory. A held run's starts now, before the slot, and waits for it: the slot then waits for
        # no interpreter's start.
        for fd in held or ():
            os.set_inheritable(fd, True)
        exec_command([*spec["fresh"], FRESH_SCRIPT, *map(str, held or ()), *spec["argv"]])
    run_script(spec["script"], spec["argv"], held)


def exec_command(argv):
    """Replace this process by the task type's command (a shell script by its #! line) or the script's new
    interpreter: everything set up above (session, cgroup, limits, user, parent-death signal, descriptors,
    environment) carries over."""
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)  # Python ignores it; `yes | head` in a script must end
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"cannot run {argv[0]}: {exc.strerror or exc}\n")
        sys.stderr.flush()
        os._exit(126 if isinstance(exc, PermissionError) else 127)
