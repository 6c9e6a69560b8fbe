"""Calls bash, sh, the system python3 and perl with the environment it was given, as a task script may, and prints
what each said; exits 1 if one of them could not run. bash runs `uname`, `ls` and `time`, sh runs `id`."""
import subprocess
import sys

TOOLS = {
    "bash": ["bash", "-c", "echo bash-ran; uname >/dev/null; ls / >/dev/null; time true"],
    "sh": ["sh", "-c", "echo sh-ran; id -u >/dev/null"],
    "python3": ["/usr/bin/python3", "-c", "print('python3-ran')"],
    "perl": ["perl", "-e", "print qq{perl-ran\\n}"],
}

failed = []
for name, command in TOOLS.items():
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    print(f"{name}: exit {done.returncode}: {done.stdout.strip()} {done.stderr.strip()}".rstrip(), flush=True)
    if done.returncode != 0 or f"{name}-ran" not in done.stdout:
        failed.append(name)
sys.exit(1 if failed else 0)
