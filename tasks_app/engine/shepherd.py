"""The shepherd: one small process per run that starts the task's script and makes sure nothing the script
starts outlives the run. It imports no Django (the engine starts it in a clean interpreter) and only
builtin modules that cost nothing to import, because its start is part of every run's launch time.

The engine starts it through run_shepherd.py, `python -E -s -u -X utf8 run_shepherd.py <execution id>
<script>` (the arguments only say in `ps` what it supervises), with stdin = a control pipe, stdout/stderr = the run's output file and one
more descriptor, the result pipe. It reads one JSON line (the spec) from the control pipe, becomes a child
subreaper (every orphan of the run becomes its child), forks the script's process, and then waits for:
the script's end, "term <grace>" on the control pipe (a stop or a timeout), the end of the control pipe
(the engine died, even by kill -9) or a signal (SIGHUP is its parent-death signal). Whatever happens, it
kills every process of the run (the run's cgroup and its own subtree in /proc, until none is left), writes
one JSON result line and exits.

The script runs in the forked process itself, exactly as `python script.py` would run it (a second
interpreter start would cost about 10 ms of CPU per run): own session, the run's cgroup, resource limits,
the run's user and groups, parent-death signal, default signal dispositions, only fds 0-2, the task's
environment."""
import gc
import os
import sys

import _signal
import select

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
SIGHUP, SIGINT, SIGKILL, SIGTERM = _signal.SIGHUP, _signal.SIGINT, _signal.SIGKILL, _signal.SIGTERM
SIGCHLD = _signal.SIGCHLD
ABORT_SIGNALS = (SIGHUP, SIGINT, SIGTERM)
SETUP_FAILED = 127  # the script's process exits with this when it could not be set up (the reason is sent)
KILL_ROUND = 0.02  # seconds between rounds of SIGKILL while processes of the run remain
GIVE_UP_AFTER = 30.0  # seconds of SIGKILL rounds before processes that do not die (stuck in I/O) are reported


# Small helpers that avoid importing ctypes, json and signal (together ~10 ms at every launch).

def prctl(option, value):
    """prctl(2) through _ctypes; raises OSError on failure."""
    global _prctl
    if _prctl is None:
        import _ctypes

        class Int(_ctypes._SimpleCData):
            _type_ = "i"

        class ULong(_ctypes._SimpleCData):
            _type_ = "L"

        class Lib:
            _handle = _ctypes.dlopen(None)

        class Func(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL
            _restype_ = Int
            _argtypes_ = (Int, ULong, ULong, ULong, ULong)

        _prctl = Func(("prctl", Lib()))
    if _prctl(option, value, 0, 0, 0) != 0:
        raise OSError(f"prctl({option}, {value}) failed")


_prctl = None


def loads(text):
    import _json

    class Context:
        strict = True
        object_hook = object_pairs_hook = None
        parse_float, parse_int, parse_constant = float, int, float
        memo = {}

    value, end = _json.make_scanner(Context())(text, 0)
    return value


def dumps(value):
    """JSON for what a result holds: dicts, lists, str, int, float, bool, None."""
    import _json

    if value is None or value is True or value is False:
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{dumps(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(dumps(v) for v in value) + "]"


def read_line(fd, buffer):
    """(line or None at end of file, rest of buffer): reads fd until a newline."""
    while b"\n" not in buffer:
        chunk = os.read(fd, 65536)
        if not chunk:
            return None, buffer
        buffer += chunk
    line, _, rest = buffer.partition(b"\n")
    return line.decode("utf-8"), rest


def write_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def set_name(name):
    """The process's name in ps -o comm, top and pgrep (15 bytes at most)."""
    try:
        write_file("/proc/self/comm", name[:15])
    except OSError:
        pass


def read_text(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        return os.read(fd, 65536).decode(errors="replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


# Finding every process of the run.

def _children_files_work():
    me = os.getpid()
    return os.path.exists(f"/proc/{me}/task/{me}/children")


def children_of(pid):
    """Pids whose parent is `pid`, from /proc/<pid>/task/*/children."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        found.extend(int(p) for p in read_text(f"/proc/{pid}/task/{tid}/children").split())
    return found


def _parents():
    """pid -> parent pid of every process, from /proc/*/stat (kernels without the children files)."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_text(f"/proc/{name}/stat")
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 1:
                parents[int(name)] = int(fields[1])
    return parents


def descendants(root, use_children_files):
    """Every process below `root` by parentage. As a subreaper, an orphan of the run is re-parented to
    root, so this finds even what called setsid() and forked twice."""
    if use_children_files:
        found, stack = [], [root]
        while stack:
            for child in children_of(stack.pop()):
                found.append(child)
                stack.append(child)
        return found
    parents = _parents()
    below = {}
    for pid, parent in parents.items():
        below.setdefault(parent, []).append(pid)
    found, stack = [], [root]
    while stack:
        for child in below.get(stack.pop(), ()):
            found.append(child)
            stack.append(child)
    return found


def is_zombie(pid):
    stat = read_text(f"/proc/{pid}/stat")
    return not stat or stat[stat.rfind(")") + 2:stat.rfind(")") + 3] in ("Z", "X")


class Run:
    """The shepherd's state for one run."""

    def __init__(self, spec, result_fd):
        self.spec = spec
        self.result_fd = result_fd
        self.me = os.getpid()
        self.child = None
        self.status = None  # the script's wait status once reaped
        self.cpu = 0.0  # the script's own CPU seconds (its rusage)
        self.signalled = set()  # pids of the run, other than the script, that were signalled
        self.use_children_files = _children_files_work()
        self.cgroup = spec.get("cgroup")
        self.cgroup_error = ""
        self.ctrl_buffer = b""
        self.ctrl_open = True
        self.aborted = ""
        self.survivors = 0
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    # Signals: handlers do nothing; the wake-up pipe carries the signal numbers into the poll loop.

    def install_signals(self):
        _signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        for sig in (SIGCHLD,) + ABORT_SIGNALS:
            _signal.signal(sig, _noop)

    def drain_signals(self):
        try:
            data = os.read(self.wake_r, 4096)
        except BlockingIOError:
            data = b""
        for sig in ABORT_SIGNALS:
            if sig in data:
                self.aborted = self.aborted or f"signal {sig}"
        self.reap()

    def reap(self):
        """Reap every child that ended: the script (its status kept) and orphans the run left."""
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.child:
                self.status = status
                self.cpu = usage.ru_utime + usage.ru_stime

    def has_children(self):
        return self.reap()

    # The run's cgroup.

    def make_cgroup(self):
        """Create the run's cgroup and write its limits; on failure the run falls back to setrlimit."""
        if not self.cgroup:
            return
        try:
            for path in self.cgroup["dirs"]:
                try:
                    os.mkdir(path, 0o755)
                except FileExistsError:  # left by a run whose shepherd could not finish: reuse it
                    pass
            for path, value, required in self.cgroup["files"]:
                try:
                    write_file(path, value)
                except OSError:
                    if required:
                        raise
        except OSError as exc:
            self.cgroup_error = f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")
            self.remove_cgroup()
            self.cgroup = None

    def cgroup_pids(self):
        pids = set()
        for path in self.cgroup["procs"] if self.cgroup else ():
            pids.update(int(p) for p in read_text(path).split())
        return pids

    def cgroup_events(self):
        counts = {}
        for name, path, key in self.cgroup["events"] if self.cgroup else ():
            for line in read_text(path).splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
                    counts[name] = int(parts[1])
        return counts

    def remove_cgroup(self):
        import time

        deadline = time.monotonic() + 2.0
        for path in reversed(self.cgroup["dirs"] if self.cgroup else ()):
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # busy while the last processes leave it
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.01)

    # Ending processes.

    def run_pids(self):
        """Every live process of the run: its cgroup's and the shepherd's subtree."""
        pids = set(descendants(self.me, self.use_children_files)) | self.cgroup_pids()
        pids.discard(self.me)
        return {pid for pid in pids if not is_zombie(pid)}

    def signal_all(self, sig):
        pids = self.run_pids()
        if sig == SIGKILL and self.cgroup and self.cgroup.get("kill"):
            try:
                write_file(self.cgroup["kill"], "1")
            except OSError:
                pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                continue
        self.signalled.update(pids - {self.child})
        return pids

    def kill_all(self):
        """SIGKILL every process of the run, round after round, until none is left: a process forked
        meanwhile is re-parented to the shepherd (or stays in the cgroup) and is found next round."""
        import time

        give_up = time.monotonic() + GIVE_UP_AFTER
        while True:
            pids = self.signal_all(SIGKILL)
            children = self.has_children()
            if not pids and not children:
                return
            if time.monotonic() > give_up:  # stuck in the kernel (a hung mount): say so, do not hang
                self.survivors = len(pids)
                return
            self.wait_events(KILL_ROUND, watch_control=False)

    def terminate(self, grace):
        """SIGTERM every process of the run, SIGKILL what is left after `grace` seconds."""
        import time

        self.signal_all(SIGTERM)
        deadline = time.monotonic() + grace
        while not self.aborted and time.monotonic() < deadline:
            if not self.run_pids() and not self.has_children():
                break
            self.wait_events(min(0.05, max(0.0, deadline - time.monotonic())))
        self.kill_all()

    # The loop.

    def wait_events(self, timeout, watch_control=True):
        """Poll the control pipe and the signal pipe for up to `timeout` s (None: until something happens).
        Returns "term <grace>" when the engine asks for one."""
        poller = select.poll()
        poller.register(self.wake_r, select.POLLIN)
        if watch_control and self.ctrl_open:
            poller.register(0, select.POLLIN)
        events = poller.poll(None if timeout is None else timeout * 1000)
        request = None
        for fd, _ in events:
            if fd == self.wake_r:
                self.drain_signals()
            elif fd == 0:
                request = self.read_control()
        return request

    def read_control(self):
        try:
            chunk = os.read(0, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            self.ctrl_open = False
            self.aborted = self.aborted or "the engine is gone"
            return None
        self.ctrl_buffer += chunk
        return self.take_request()

    def take_request(self):
        """The last "term <grace>" among the complete lines received, if any."""
        request = None
        while b"\n" in self.ctrl_buffer:
            line, _, self.ctrl_buffer = self.ctrl_buffer.partition(b"\n")
            if line.startswith(b"term"):
                request = line.decode()
        return request

    def supervise(self):
        """Until the script ends or the run is ended; then no process of the run is left."""
        term = self.take_request()  # a stop may have come with the spec
        while self.status is None and not self.aborted and term is None:
            term = self.wait_events(None)
        if self.aborted:
            self.kill_all()
        elif term is not None:
            parts = term.split()
            self.terminate(float(parts[1]) if len(parts) > 1 else 0.0)
        elif self.run_pids() or self.has_children():
            # The script ended but left processes behind (a background child, a daemon).
            self.terminate(float(self.spec.get("kill_grace", 0)))
        while self.status is None and self.has_children():
            self.wait_events(KILL_ROUND, watch_control=False)
        self.reap()

    def result(self):
        status = self.status
        if status is None:
            code = None
        elif os.WIFSIGNALED(status):
            code = -os.WTERMSIG(status)
        else:
            code = os.WEXITSTATUS(status)
        return {"event": "end", "returncode": code, "leftover": len(self.signalled), "cpu": round(self.cpu, 3),
                "cgroup": self.cgroup["version"] if self.cgroup else None, "cgroup_error": self.cgroup_error,
                "events": self.cgroup_events(), "aborted": self.aborted, "survivors": self.survivors}

    def report(self, message):
        try:
            os.write(self.result_fd, (dumps(message) + "\n").encode())
        except OSError:  # the engine is gone: nobody reads it
            pass


def _noop(signum, frame):
    pass


# The script's process.

def become_script(run, ready_w):
    """In the forked child: set up the process, tell the shepherd it worked (by closing ready_w), then run
    the script. Never returns to the shepherd's code."""
    spec = run.spec
    step = "start its own session"
    try:
        os.setsid()
        step = "join the run's cgroup"
        for path in (run.cgroup["procs"] if run.cgroup else ()):
            write_file(path, str(os.getpid()))
        step = "set its resource limits"
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
        prctl(PR_SET_DUMPABLE, 1)  # the script may read its own /proc/self
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
        os.dup2(null, 0)
        os.environ.clear()
        os.environ.update(spec["env"])
        # What the interpreter read from the shepherd's environment at its start is read again from the task's.
        if "time" in sys.modules:
            sys.modules["time"].tzset()
        try:
            import _locale

            _locale.setlocale(_locale.LC_CTYPE, "")
        except Exception:  # a locale the machine does not have: Python itself carries on the same way
            pass
        for name in os.listdir("/proc/self/fd"):
            if int(name) not in (0, 1, 2, ready_w):
                try:
                    os.close(int(name))
                except OSError:
                    pass
    except BaseException as exc:
        try:
            os.write(ready_w, f"cannot {step}: {exc}".encode(errors="replace"))
        finally:
            os._exit(SETUP_FAILED)
    os.close(ready_w)
    run_script(spec["script"], spec["argv"])


def run_script(script, argv):
    """Run the script in this interpreter as `python script.py` would, then exit the way it would."""
    sys.argv[:] = argv
    sys.path[0] = os.path.dirname(script)  # was the shepherd's folder
    sys.modules.pop("shepherd", None)  # the script may have a module of that name
    try:
        with open(script, "rb") as f:
            source = f.read()
    except OSError as exc:
        sys.stderr.write(f"{sys.executable}: can't open file {script!r}: [Errno {exc.errno}] {exc.strerror}\n")
        sys.exit(2)
    main = type(sys)("__main__")
    loader = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", script)
    main.__dict__.update(__file__=script, __cached__=None, __builtins__=sys.modules["builtins"],
                         __loader__=loader, __package__=None, __spec__=None)
    sys.modules["__main__"] = main
    try:
        code = compile(source, script, "exec", dont_inherit=True)
        exec(code, main.__dict__)
    except (SystemExit, KeyboardInterrupt):
        raise  # the interpreter ends the process as it would for `python script.py`
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next  # the traceback starts in the script, as it would
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        sys.exit(1)


def main():
    spec_line, rest = read_line(0, b"")
    if spec_line is None:
        return 0  # the engine went away before sending anything
    spec = loads(spec_line)
    run = Run(spec, spec["result_fd"])
    run.ctrl_buffer = rest
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    # Not SIGKILL: the shepherd must still kill its run when the engine's thread dies, or the run's
    # setsid()'d grandchildren would escape. The engine's end also closes the control pipe.
    prctl(PR_SET_PDEATHSIG, SIGHUP)
    run.install_signals()
    set_name("task-shepherd")
    run.make_cgroup()
    ready_r, ready_w = os.pipe()
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
        run.report({"event": "started", "pid": pid, "cgroup": run.cgroup["version"] if run.cgroup else None,
                    "cgroup_error": run.cgroup_error})
        run.supervise()
        message = run.result()
    run.remove_cgroup()
    run.report(message)
    return 0


def launch():
    """run_shepherd.py's entry point. In the script's process main() returns None once the script ended
    normally: the interpreter then exits as it would after `python script.py`."""
    code = main()
    if code is not None:
        os._exit(code)
