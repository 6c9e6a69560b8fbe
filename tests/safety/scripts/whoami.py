"""Prints, as one JSON line, who it runs as and what it may read: uid, gid, groups, umask, `id -u`, and for
each path of $TRY_READ (separated by ":") "read" or why not; then appends a line to its own log ($TASK_LOG)."""
import json
import os
import subprocess

umask = os.umask(0)
os.umask(umask)
report = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": sorted(os.getgroups()),
          "umask": umask, "id_u": subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip(),
          "read": {}}
for path in filter(None, os.environ.get("TRY_READ", "").split(":")):
    try:
        with open(path, "rb") as f:
            f.read(1)
        report["read"][path] = "read"
    except OSError as exc:
        report["read"][path] = exc.strerror
with open(os.environ["TASK_LOG"], "a", encoding="utf-8") as f:
    f.write(f"written by the script as {os.getuid()}\n")
report["wrote_log"] = True
print(json.dumps(report))
