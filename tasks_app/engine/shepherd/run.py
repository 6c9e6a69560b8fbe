"""The shepherd's state for one run: its signals, its cgroup, ending its processes, and the loop that waits
for the script's end, a "term <grace>" from the engine, the engine's end or a signal."""
import os
import select

import _signal

from .procs import children_files_work, descendants, is_zombie
from .sysio import dumps, read_text, write_file

SIGHUP, SIGINT, SIGKILL, SIGTERM = _signal.SIGHUP, _signal.SIGINT, _signal.SIGKILL, _signal.SIGTERM
SIGCHLD = _signal.SIGCHLD
ABORT_SIGNALS = (SIGHUP, SIGINT, SIGTERM)
KILL_ROUND = 0.02  # seconds between rounds of SIGKILL while processes of the run remain
GIVE_UP_AFTER = 30.0  # seconds of SIGKILL rounds before processes that do not die (stuck in I/O) are reported
# Whether the kernel has /proc/<pid>/task/<tid>/children: asked once, by the fork server for all its forks.
CHILDREN_FILES = children_files_work()


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
        self.use_children_files = CHILDREN_FILES
        self.cgroup = spec.get("cgroup")
        self.cgroup_error = spec.get("cgroup_error", "")
        self.ctrl_buffer = b""
        self.ctrl_open = True
        self.aborted = ""
        self.survivors = 0
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.masked = None  # masked.MaskedOutput of a run with secrets
        self.go_r = None  # a held run's go pipe (main.py), read by the script's process at the slot
        self.go = False  # the engine said "go" (the slot came)
        self.pending_term = None  # a "term <grace>" read while waiting for the "go"

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

    # The run's cgroup: made by the engine, which moved the shepherd into it before sending the spec.

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

    def leave_and_remove_cgroup(self):
        """When the engine is gone, nobody else removes the run's cgroup: once it is empty but for the
        shepherd, the shepherd moves back to the parent cgroup and removes it. What fails is said in the
        run's output (the engine's crash recovery removes the cgroup at its next start)."""
        import sys
        import time

        try:
            for procs in self.cgroup["procs"] if self.cgroup else ():
                write_file(os.path.join(os.path.dirname(os.path.dirname(procs)), "cgroup.procs"), str(self.me))
            deadline = time.monotonic() + 5.0
            for path in self.cgroup["dirs"] if self.cgroup else ():
                while True:
                    try:
                        os.rmdir(path)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:  # busy while the last processes leave it
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.01)
        except OSError as exc:
            sys.stderr.write(f"shepherd: cannot remove the run's cgroup: {exc}\n")

    # Ending processes.

    def run_pids(self):
        """Every live process of the run: its cgroup's and the shepherd's subtree."""
        pids = set(descendants(self.me, self.use_children_files)) | self.cgroup_pids()
        pids.discard(self.me)
        return {pid for pid in pids if not is_zombie(pid)}

    def signal_all(self, sig):
        pids = self.run_pids()
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
        masked = self.masked.read_fd if self.masked else None
        if masked is not None:  # read on in every wait: a script blocked on a full pipe would never end
            poller.register(masked, select.POLLIN)
        events = poller.poll(None if timeout is None else timeout * 1000)
        request = None
        for fd, _ in events:
            if fd == self.wake_r:
                self.drain_signals()
            elif fd == 0:
                request = self.read_control()
            elif fd == masked:
                self.masked.pump()
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

    def engine_gone(self, wait: float) -> bool:
        """The control pipe is closed, now or within `wait` s: the engine died (or gave the run up). The
        parent-death signal can come first: it fires when the engine's thread that started the shepherd
        ends, and the engine's descriptors close only when its last thread has ended."""
        if self.ctrl_open:
            poller = select.poll()
            poller.register(0, select.POLLIN)
            if poller.poll(wait * 1000):
                self.read_control()
        return not self.ctrl_open

    def take_request(self):
        """The last "term <grace>" among the complete lines received, if any ("go" is noted in self.go)."""
        request = None
        while b"\n" in self.ctrl_buffer:
            line, _, self.ctrl_buffer = self.ctrl_buffer.partition(b"\n")
            if line.startswith(b"term"):
                request = line.decode()
            elif line == b"go":
                self.go = True
        return request

    def wait_go(self):
        """A held run: until the engine says "go" at the slot. False if the run ends first: the control pipe's
        end (dropped before its slot, the engine gone), a signal, or the script's process gone. A "term" that
        came with or before the "go" is kept for supervise()."""
        self.pending_term = self.take_request()  # what came with the spec
        while not self.go and self.pending_term is None and not self.aborted and self.status is None:
            self.pending_term = self.wait_events(None)
        if not self.go and self.pending_term is not None:
            self.aborted = "asked to end before its start"  # never sent before "go": the engine's error
        return self.go and not self.aborted

    def supervise(self):
        """Until the script ends or the run is ended; then no process of the run is left."""
        term = self.take_request() or self.pending_term  # a stop may have come with the spec, or the "go"
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
