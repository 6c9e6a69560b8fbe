"""The script's run in its process, as `python script.py` would run it: in the shepherd's fork (child.py), or in a
new interpreter executed for it (run_fresh_script.py), which imports nothing more than this module for it."""
import os
import sys

SETUP_FAILED = 127  # the script's process exits with this when it could not be set up (the reason is sent)
GO = b"g"  # what the shepherd writes to a held script's process at the slot (anything else: it never starts)
HERE = os.path.dirname(os.path.abspath(__file__))
ATEXIT = None  # the atexit module, set by the fork server (zygote.py); a spawned shepherd imports it at the end
# exit(3) without the interpreter's teardown (sysio.libc_exit), set by child.py: a fork of the shepherd would copy
# the shepherd's pages to free them. A new interpreter (run_fresh_script.py) ends as an interpreter ends (_end).
EXIT = None
SHEPHERD_MODULES = ()  # the names of the shepherd package's modules, listed by the fork server (zygote.py)
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


def wait_for_the_slot(ctrl, go_r):
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


def run_script(script, argv, held=None, seen=None):
    """Run the script in this interpreter as `python script.py` would, then exit the way it would. `held`: the
    descriptors to wait on for the slot, after everything but reading the script. `seen`: the modules the script
    may find in sys.modules (a new interpreter's at its start: run_held_script.py), else all but the shepherd's."""
    sys.argv[:] = argv
    sys.path[0] = os.path.dirname(script)  # was the shepherd's folder
    # The script may have a module of that name. A fork of the fork server takes the names it listed once (every
    # module of the package is imported by then) instead of reading every name in sys.modules: each name read is
    # a page of the shared memory written (its reference count), copied for this process.
    names = SHEPHERD_MODULES or [name for name in sys.modules if name == "shepherd" or name.startswith("shepherd.")]
    for name in names:
        sys.modules.pop(name, None)
    main = type(sys)("__main__")
    loader = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", script)
    main.__dict__.update(__file__=script, __cached__=None, __builtins__=sys.modules["builtins"],
                         __loader__=loader, __package__=None, __spec__=None)
    if held:
        # The compiler's first use in this process (its memory, copied from the shepherd's on write) is paid
        # before the slot; the script itself is read at the slot, as `python script.py` reads it at its start.
        compile(WARM_UP, script, "exec", dont_inherit=True)
        wait_for_the_slot(*held)
    if seen is not None:
        for name in [name for name in sys.modules if name not in seen]:
            del sys.modules[name]
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
        code = compile(source, script, "exec", dont_inherit=True)
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
    if EXIT is None:  # a new interpreter of its own (run_fresh_script.py): its own end is the one
        sys.exit(code)
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
            if threading.active_count() > 1:
                # A daemon thread still runs: the interpreter's end stops it before clearing modules; clearing
                # them under it here would make it fail in ways `python script.py` never shows.
                sys.exit(code)
        # The fork server's atexit module (imported there once, then taken out of its forks' sys.modules): the
        # callbacks are the interpreter's, whichever atexit module object registered them.
        atexit = ATEXIT or __import__("atexit")
        atexit._run_exitfuncs()
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
    EXIT(code & 0xFF)  # what exit() keeps of Python's exit code


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
