"""Crash-safe JSON files: atomic replacement (temp file, fsync, rename) serialized by a `<name>.lock` sibling.

A process killed in the middle of a write leaves either the old file or the new one, never a torn one.
"""
import contextlib
import glob
import json
import os
import tempfile
from pathlib import Path

from filelock import FileLock


def dumps(data) -> str:
    """The one serialization: UTF-8 text with Chinese kept readable, 2-space indent, trailing newline.

    Key order is the caller's (dicts keep insertion order), so task dicts stay in definition.fields.TASK_FIELDS
    order and the file diffs cleanly in git.
    """
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def lock_for(path) -> FileLock:
    """The lock guarding `path`. One instance per path in a process (is_singleton), re-entrant per thread,
    so a read-modify-write can hold it while calling write_json_atomic."""
    path = Path(path)
    return FileLock(str(path.with_name(path.name + ".lock")), mode=0o600, is_singleton=True)


# How often a waiting writer tries the lock again. filelock's 50 ms default added up to 50 ms to every edit that
# waited behind another one, idle time in which nobody held the lock.
POLL_SECONDS = 0.002


@contextlib.contextmanager
def locked(path):
    """Hold the lock of `path` for a read-modify-write; other processes and threads wait."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    lock = lock_for(path)
    lock.acquire(poll_interval=POLL_SECONDS)
    try:
        yield
    finally:
        lock.release()


def write_text_atomic(path, text: str):
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path, content: bytes):
    path = Path(path)
    with locked(path):
        _remove_stale_temp_files(path)
        # The temp file sits in the same folder, so os.replace is a rename on one file system (atomic).
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            if path.exists():
                # Keep the permissions of the file being replaced (mkstemp creates 0600).
                os.chmod(tmp, path.stat().st_mode & 0o7777)
            # else the new file stays 0600: conf/tasks.json and its backups hold task_env values (secrets)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)


def write_json_atomic(path, data):
    """Replace `path` with `data` as JSON, atomically and under the file's lock."""
    write_text_atomic(path, dumps(data))


def read_json(path, default=None):
    """The parsed content of `path`, or `default` if the file does not exist."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def _remove_stale_temp_files(path):
    # Every writer holds the lock while its temp file exists, so one found now was left by a killed writer.
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def _fsync_dir(folder):
    # Makes the rename itself durable: without it a power cut can bring the old directory entry back.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
