"""The script's process: forked by the shepherd, set up (session, cgroup, limits, user, parent-death signal,
signals, descriptors, environment), then the script runs in it as `python script.py` would run it."""
import os
import sys

import _signal

from .run import SIGINT, SIGKILL
from .sysio import PR_SET_DUMPABLE, PR_SET_PDEATHSIG, compile_script, libc_exit, prctl, set_name, write_file

SETUP_FAILED = 127  # the script's process exits with this when it could not be set up (the reason is sent)
GO = b"g"  # what the shepherd writes to a held script's process at the slot (anything else: it never starts)
HERE = os.path.dirname(os.path.abspath(__file__))
ATEXIT = None  # the atexit module, imported by the fork server (zygote.py) or before the fork (before_the_fork)
SHEPHERD_MODULES = ()  # the names of the shepherd package's modules, listed by the fork server or before_the_fork()
SIGNALS_TO_RESET = ()  # the signals the script's process resets to their default, listed by before_the_fork()
# Compiled by a held run's process while it waits for its slot (run_script): some of everything a script has.
WARM_UP = """
import os, sys
def f(a, *args, b=1, **kw):
    "doc"
    for i in range(a):
        if i % 2 and not b or a in (1, 2.5, "x", b"y"):
            continue
    with open(a) as g:
        return [x for x in {1: 2}] + list(args), f"{a!r:>4}", lambda: (yield)
class C(Exception):
    x: int = 0
try:
    assert f, "m"
except (C, KeyError) as e:
    raise ValueError from e
finally:
    del os
"""


def before_the_fork():
    """In the shepherd, just before it forks the script's process: what that process would otherwise do after the
    fork, where every page of the shepherd's memory it writes to is copied (an import, a walk over sys.modules, a
    Python call per signal), is done here once. A fork of the fork server finds most of it done by the fork server
    (zygote.py)."""
    global ATEXIT, SHEPHERD_MODULES, SIGNALS_TO_RESET
    # The script's process sets its limits with resource and its locale with _locale; the shepherd imports
    # resource anyway at its first os.wait4 (whose rusage is a resource.struct_rusage). A spawned script's process
    # had both in sys.modules already, as a forked one has.
    import _locale  # noqa: F401
    import resource  # noqa: F401

    if ATEXIT is None:
        # As the fork server does: the module object the script's end runs the callbacks with (they belong to
        # the interpreter), out of sys.modules, where `python script.py` does not have it.
        import atexit

        ATEXIT = atexit
        del sys.modules["atexit"]
    if not SHEPHERD_MODULES:
        SHEPHERD_MODULES = tuple(name for name in sys.modules if name == "shepherd" or name.startswith("shepherd."))
    # The signals whose disposition the script's process must reset: all but those at their default already.
    # getsignal() knows every disposition of this process: read from the kernel by the interpreter's start (what
    # the engine's parent ignored shows as SIG_IGN, a C handler as None), set since only through the signal
    # module (the shepherd's own handlers).
    SIGNALS_TO_RESET = tuple(sig for sig in _signal.valid_signals()
                             if sig not in (SIGKILL, _signal.SIGSTOP, _signal.SIGPIPE)
                             and _signal.getsignal(sig) is not _signal.SIG_DFL)


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
        if not spec.get("exec"):
            # The script may read its own /proc/self. A command is made dumpable by its exec (unless it is
            # unreadable or set-user-ID); until then this process may hold the fork server's memory, which a
            # run-as user's other processes must not read (forkserver.py).
            prctl(PR_SET_DUMPABLE, 1)
        step = "reset its signals"
        _signal.set_wakeup_fd(-1)
        _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
        for sig in SIGNALS_TO_RESET:
            # Also what the scheduler's own parent ignored (a shell's background job ignores SIGINT), and
            # SIGXFSZ, which Python ignores: a file size limit then ends the script with a signal that
            # names it, instead of an error the script may swallow.
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
            _wait_for_the_slot(*held)
        exec_command(spec["exec"])
    run_script(spec["script"], spec["argv"], held)


def _wait_for_the_slot(ctrl, go_r):
    """A held run's process, set up: the script starts at the slot. Data on the engine's control pipe can only be
    its "go" (the shepherd read the spec before this process was forked, and "term" comes after "go"), so this
    process starts on it without waiting for the shepherd to wake and pass it on; else the shepherd's word
    decides: GO, or the end of its pipe (the run dropped before its slot, the engine or the shepherd gone), which
    ends this process before the script ever ran."""
    import select

    go = False
    try:
        poller = select.poll()
        poller.register(ctrl, select.POLLIN)
        poller.register(go_r, select.POLLIN)
        while not go:
            for fd, event in poller.poll():
                if fd == ctrl and event & select.POLLIN:
                    go = True
                    break
                if fd == ctrl:  # its end, without a "go": the shepherd tells what happened
                    poller.unregister(ctrl)
                elif fd == go_r:
                    if os.read(go_r, 1) != GO:
                        os._exit(SETUP_FAILED)
                    go = True
                    break
        os.close(ctrl)
        os.close(go_r)
    except BaseException:  # noqa: BLE001 (a signal's KeyboardInterrupt: the script never started)
        os._exit(SETUP_FAILED)


def exec_command(argv):
    """Replace this process by the task type's command (a shell script by its #! line): everything set up above
    (session, cgroup, limits, user, parent-death signal, descriptors, environment) carries over."""
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)  # Python ignores it; `yes | head` in a script must end
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"cannot run {argv[0]}: {exc.strerror or exc}\n")
        sys.stderr.flush()
        os._exit(126 if isinstance(exc, PermissionError) else 127)


def run_script(script, argv, held=None):
    """Run the script in this interpreter as `python script.py` would, then exit the way it would. `held`: the
    descriptors to wait on for the slot, after everything but reading the script."""
    sys.argv[:] = argv
    sys.path[0] = os.path.dirname(script)  # was the shepherd's folder
    # The script may have a module of that name. The names were listed before the fork (every module of the package
    # is imported by then) instead of reading every name in sys.modules here: each name read is a page of the
    # shared memory written (its reference count), copied for this process.
    for name in SHEPHERD_MODULES:
        sys.modules.pop(name, None)
    main = type(sys)("__main__")
    loader = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", script)
    main.__dict__.update(__file__=script, __cached__=None, __builtins__=sys.modules["builtins"],
                         __loader__=loader, __package__=None, __spec__=None)
    if held:
        # The compiler's first use in this process (its memory, copied from the shepherd's on write) is paid
        # before the slot; the script itself is read at the slot, as `python script.py` reads it at its start.
        compile_script(WARM_UP.encode(), script)
        _wait_for_the_slot(*held)
    try:
        with open(script, "rb") as f:
            source = f.read()
    except OSError as exc:
        sys.stderr.write(f"{sys.executable}: can't open file {script!r}: [Errno {exc.errno}] {exc.strerror}\n")
        sys.exit(2)
    shared = set(sys.modules)  # the shepherd's modules: the script's are the ones it adds
    sys.modules["__main__"] = main
    status = 0
    try:
        code = compile_script(source, script)
        exec(code, main.__dict__)
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # the interpreter prints it and exits with 1
        status = exc.code or 0
    except KeyboardInterrupt:
        raise  # the interpreter ends the process by SIGINT, as it would for `python script.py`
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and os.path.dirname(tb.tb_frame.f_code.co_filename) == HERE:
            tb = tb.tb_next  # the traceback starts in the script, as it would
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        status, tb = 1, None  # its frames' objects are freed at the end, as the interpreter frees them
    _end(shared, status)


def _end(shared, code):
    """The end of `python script.py` as the script can see it, without the interpreter's teardown: that frees
    every object of the shepherd's interpreter, whose pages this process shares with the shepherd until it
    writes to them (about a third of a forked run's CPU). In Py_Finalize's order: wait for the threads, atexit
    callbacks, flush stdout and stderr, clear the modules the script imported (its objects are freed: their
    __del__ run, files it left open are flushed), collect its garbage, exit(3). Whatever fails on the way is
    left to the interpreter's own end (sys.exit)."""
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
            if threading.active_count() > 1:
                # A daemon thread still runs: the interpreter's end stops it before clearing modules; clearing
                # them under it here would make it fail in ways `python script.py` never shows.
                sys.exit(code)
        # The atexit module imported before the fork (before_the_fork), then taken out of sys.modules: the
        # callbacks are the interpreter's, whichever atexit module object registered them.
        ATEXIT._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        for name in [*reversed([name for name in sys.modules if name not in shared]), "__main__"]:
            _clear(sys.modules.get(name))
        import gc

        gc.collect()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except BaseException:  # noqa: BLE001 (the interpreter's end reports it)
        sys.exit(code)
    libc_exit(code & 0xFF)  # what exit() keeps of Python's exit code


def _clear(module):
    """As the interpreter clears a module at its end: names with one leading underscore first, then the
    others, each set to None (__builtins__ kept)."""
    namespace = getattr(module, "__dict__", None)
    if namespace is None:
        return
    for first in (True, False):
        for name in list(namespace):
            if isinstance(name, str) and name != "__builtins__" and (
                    not first or (name.startswith("_") and not name.startswith("__"))):
                namespace[name] = None
