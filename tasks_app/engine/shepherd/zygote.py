"""The fork server of fast start (SCHEDULER_FAST_START): a clean interpreter, started once by the engine like a
shepherd (`python -E -s -u -X utf8 run_zygote.py`, the shepherd's environment, cwd /), that has imported the
shepherd package and nothing else, and forks a run's shepherd per request instead of the engine spawning a new
interpreter (~10-20 ms of CPU per run). The fork then is that run's shepherd exactly as a spawned one would be:
its own session, the run's control pipe as stdin, the output file as stdout and stderr, the result pipe at the
engine's descriptor number, no other descriptor, the shepherd's command line (crash recovery finds it by it).

Protocol over stdin, a SOCK_SEQPACKET socket: the engine sends one message per run, the shepherd's command
line as NUL-separated words after "fork <result fd number>\\0", with the descriptors control, output, result
and a status pipe (SCM_RIGHTS); the zygote answers "pid <pid>" with the shepherd's pidfd, or "error <why>".
When it reaps a shepherd it writes its wait status into that run's status pipe and closes it. The end of the
socket means: fork no more, reap what is left, exit (the engine restarts zygotes every few hundred runs).
Before its first request it sends "ready": the engine keeps using the zygote it replaces until then."""
import os
import select
import sys

import _json  # noqa: F401  every shepherd reads its spec with it (sysio.loads)
import _locale  # noqa: F401  the script's process sets its locale with it (child.py): 0.4 ms of CPU in each fork
import _signal
import _socket
import atexit
import resource  # noqa: F401  the script's process sets its limits with it; os.wait4 returns its rusage

from . import child, masked  # noqa: F401  (masked: every module of the package, listed once, see serve())
from .run import SIGCHLD, SIGKILL
from .sysio import PR_SET_DUMPABLE, PR_SET_PDEATHSIG, prctl, set_name

MAX_FDS = 4
# What the zygote imports beyond what a spawned shepherd has: removed from the fork's sys.modules, so that the
# script sees the modules a spawned one sees. atexit is what the script's process runs at the script's end
# (child.py, which keeps it): an import there, in every fork, cost 0.2-0.3 ms of CPU.
OWN_MODULES = ("_socket", "shepherd.zygote", "atexit")
child.ATEXIT = atexit


FORKED = "forked"  # what serve() and _serve_one() return in a fork, which then goes on as a shepherd


def serve():
    """The zygote's loop: its exit code, or FORKED in a fork set up as a shepherd (run_zygote.py then calls the
    shepherd's launch() at the top level, so that the script's end is the interpreter's normal one)."""
    # SIGKILL: it has nothing to clean up, and its shepherds do not depend on it (they watch their control
    # pipe). The engine starts it from a thread that lives as long as the engine.
    prctl(PR_SET_PDEATHSIG, SIGKILL)
    # Long-lived, and the parent of every later run's shepherd: a script running as the scheduler's user must
    # not attach to it (ptrace, /proc/<pid>/mem) to change the runs to come. Its forks are dumpable again.
    prctl(PR_SET_DUMPABLE, 0)
    set_name("task-zygote")
    global _ARGS
    _ARGS = _argument_area()
    child.SHEPHERD_MODULES = tuple(name for name in sys.modules if name == "shepherd" or name.startswith("shepherd."))
    sock = _socket.socket(fileno=0)
    _answer(sock, b"ready")
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    _signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    _signal.signal(SIGCHLD, _noop)
    runs = {}  # shepherd pid -> its status pipe
    accepting = True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    while accepting or runs:
        for fd, _ in poller.poll():
            if fd == wake_r:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
            elif accepting:
                served = _serve_one(sock, runs)
                if served == FORKED:
                    return FORKED
                if not served:
                    accepting = False
                    poller.unregister(sock.fileno())
        _reap(runs)
    return 0


def _serve_one(sock, runs):
    """One request: True, False at the end of the socket, FORKED in the fork."""
    try:
        data, ancdata, _, _ = sock.recvmsg(65536, _socket.CMSG_LEN(MAX_FDS * 4))
    except InterruptedError:
        return True
    except OSError:
        return False
    fds = []
    for level, kind, payload in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.extend(int.from_bytes(payload[i:i + 4], sys.byteorder) for i in range(0, len(payload) - 3, 4))
    if not data:
        _close(fds)
        return False
    words = data.split(b"\0")
    if len(fds) != MAX_FDS or len(words) < 2 or words[0] != b"fork" or not words[1].isdigit():
        _close(fds)
        _answer(sock, b"error a request must be fork, the result fd, the command and 4 descriptors")
        return True
    ctrl, out, result, status = fds
    try:
        pid = os.fork()
    except OSError as exc:
        _close(fds)
        _answer(sock, f"error cannot fork: {exc}".encode())
        return True
    if pid == 0:
        try:
            _become_shepherd(ctrl, out, result, int(words[1]), [w.decode() for w in words[2:]], sock)
        except BaseException as exc:
            try:
                os.write(2, f"zygote: the fork could not become a shepherd: {exc!r}\n".encode(errors="replace"))
            finally:
                os._exit(70)
        return FORKED
    _close((ctrl, out, result))
    runs[pid] = status
    try:
        pidfd = os.pidfd_open(pid)  # race-free: only this process can reap it, and it has not yet
    except OSError:
        pidfd = None
    try:
        _answer(sock, f"pid {pid}".encode(), [pidfd] if pidfd is not None else [])
    finally:
        if pidfd is not None:
            os.close(pidfd)
    return True


def _become_shepherd(ctrl, out, result, result_number, command, sock):
    """In the fork: what a spawned shepherd starts with."""
    prctl(PR_SET_DUMPABLE, 1)
    os.setsid()
    _signal.set_wakeup_fd(-1)
    _signal.signal(SIGCHLD, _signal.SIG_DFL)
    os.dup2(ctrl, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.dup2(result, result_number)
    sock.detach()  # fd 0 is the control pipe now; the socket object must not close it
    os.closerange(3, result_number)
    os.closerange(result_number + 1, 1 << 20)
    os.chdir("/")
    _set_command_line(command)
    # As the spawned shepherd's: sys.argv from run_shepherd.py on (the zygote's run_zygote.py sits beside it,
    # so sys.path[0] is the same folder already).
    sys.argv[:] = command[len(sys.orig_argv) - len(sys.argv):]
    sys.orig_argv[:] = command
    for name in OWN_MODULES:
        sys.modules.pop(name, None)


_ARGS = None  # (start, end) of the zygote's arguments in its memory: the same addresses in each of its forks


def _argument_area():
    """Where the kernel shows /proc/<pid>/cmdline from: arg_start and arg_end (fields 48 and 49 of stat)."""
    fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)
    try:
        stat = os.read(fd, 4096)
    finally:
        os.close(fd)
    fields = stat[stat.rfind(b")") + 2:].split()
    return int(fields[45]), int(fields[46])


def _set_command_line(command):
    """The fork's /proc/<pid>/cmdline becomes the shepherd's: written over the zygote's own arguments (started
    with room to spare), through /proc/self/mem as setproctitle does. Crash recovery and ps find the run's
    shepherd by it. The area was found once by the zygote; plain descriptor calls, because every object this
    fork touches is a page it copies."""
    start, end = _ARGS or _argument_area()
    text = b"\0".join(w.encode() for w in command) + b"\0"
    if len(text) > end - start:
        raise ValueError("the command line does not fit in the zygote's")
    mem = os.open("/proc/self/mem", os.O_RDWR | os.O_CLOEXEC)
    try:
        if os.pwrite(mem, text + b"\0" * (end - start - len(text)), start) != end - start:
            raise OSError("the command line was not written whole")
    finally:
        os.close(mem)


def _reap(runs):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        pipe = runs.pop(pid, None)
        if pipe is not None:
            try:
                os.write(pipe, f"{status}\n".encode())
            except OSError:  # the engine closed its end: nobody asks
                pass
            os.close(pipe)


def _answer(sock, message, fds=()):
    try:
        if fds:
            payload = b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds)
            sock.sendmsg([message], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, payload)])
        else:
            sock.send(message)
    except OSError:  # the engine is gone or closed the socket: it no longer waits
        pass


def _close(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _noop(signum, frame):
    pass
