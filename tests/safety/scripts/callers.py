"""Calls bash, sh, the system python3 and perl with the environment it was given, the way a script runs
helper programs; each prints a line. A variable that made one of them run code would create a file."""
import subprocess

for command in (["bash", "-c", "echo bash ran"], ["sh", "-c", "echo sh ran"],
                ["/usr/bin/python3", "-c", "print('python3 ran')"], ["perl", "-e", "print qq(perl ran\\n)"]):
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    print(done.stdout.strip() or f"{command[0]} failed: {done.stderr.strip()}")
