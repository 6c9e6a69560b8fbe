"""Quick probe (not the benchmark suite): the CPU of a spawned shepherd and its script's process, without the
engine, for two or more copies of the project compared run by run. Each run starts `python -E -s -u -X utf8
<tree>/tasks_app/engine/run_shepherd.py` as the engine does (control pipe as stdin, output to /dev/null, the result
pipe as fd 3, its own session, the shepherd's environment), sends it the spec of a two-line script (no cgroup, the
default open-files limit), reads its result and reaps it. The trees take turns run by run, so that the shared
machine's drift falls on all of them alike; per block of N runs it prints each tree's CPU (RUSAGE_CHILDREN: the
shepherd with the script's process it reaped) and minor page faults, and with two trees the differences per block.
A tree may carry extra environment variables for its shepherd: `<tree>|NAME=value,NAME=value`.
Usage: .venv/bin/python bench/shepherd_pairs.py N BLOCKS TREE_A TREE_B [...]
(e.g. a copy of main: `git archive main | tar -x -C /tmp/before`, then `... 100 8 /tmp/before .`)"""
import json
import os
import resource
import statistics
import sys
import tempfile
import time

PYTHON = sys.executable
SCRIPT = "import time; _STAMP_NS = time.time_ns()\nimport os\n"
SHEPHERD_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
TASK_ENV = {"PATH": f"{os.path.dirname(PYTHON)}:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8", "PYTHONUNBUFFERED": "1", "TASK_ID": "probe"}


def one_run(tree, script, out):
    root, _, extra = tree.partition("|")
    env = dict(SHEPHERD_ENV, **dict(kv.split("=", 1) for kv in extra.split(",") if kv))
    ctrl_r, ctrl_w = os.pipe()
    result_r, result_w = os.pipe()
    argv = [PYTHON, "-E", "-s", "-u", "-X", "utf8", os.path.join(root, "tasks_app/engine/run_shepherd.py"), "probe-1",
            script]
    pid = os.posix_spawn(PYTHON, argv, env, setsid=True, file_actions=[
        (os.POSIX_SPAWN_DUP2, ctrl_r, 0), (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, out, 2),
        (os.POSIX_SPAWN_DUP2, result_w, 3)])
    os.close(ctrl_r)
    os.close(result_w)
    spec = {"script": script, "argv": [script], "cwd": os.path.dirname(script), "env": TASK_ENV, "user": None,
            "umask": None, "rlimits": [["RLIMIT_NOFILE", 1024, 1024]], "fallback_rlimits": [], "cgroup": None,
            "cgroup_error": "", "kill_grace": 0.0, "result_fd": 3, "mask": None, "exec": None, "hold": False}
    os.write(ctrl_w, (json.dumps(spec) + "\n").encode())
    reports = b""
    while chunk := os.read(result_r, 65536):
        reports += chunk
    os.close(result_r)
    os.close(ctrl_w)
    os.waitpid(pid, 0)
    end = json.loads(reports.splitlines()[-1])
    assert end.get("returncode") == 0, reports


def main():
    runs, blocks, trees = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    work = tempfile.mkdtemp(prefix="shepherd_pairs_")
    script = os.path.join(work, "probe_noop.py")
    with open(script, "w") as f:
        f.write(SCRIPT)
    out = os.open("/dev/null", os.O_WRONLY)
    figures = {tree: [] for tree in trees}
    print(time.strftime("%H:%M:%S UTC", time.gmtime()), "load", os.getloadavg()[0])
    for _ in range(blocks):
        sums = {tree: [0.0, 0] for tree in trees}
        for _ in range(runs):
            for tree in trees:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                one_run(tree, script, out)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                sums[tree][0] += after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                sums[tree][1] += after.ru_minflt - before.ru_minflt
        for tree in trees:
            figures[tree].append((sums[tree][0] / runs * 1000, sums[tree][1] / runs))
    os.unlink(script)
    os.rmdir(work)
    print(time.strftime("%H:%M:%S UTC", time.gmtime()), "load", os.getloadavg()[0])
    for tree in trees:
        ms = [m for m, _ in figures[tree]]
        print(f"{tree}: ms of CPU per run, median {statistics.median(ms):.2f}, range {min(ms):.2f}-{max(ms):.2f} "
              f"{[round(m, 2) for m in ms]}; page faults {statistics.median([f for _, f in figures[tree]]):.0f}")
    if len(trees) == 2:
        saved = [a - b for (a, _), (b, _) in zip(figures[trees[0]], figures[trees[1]])]
        print(f"first less second, per block: median {statistics.median(saved):.2f} ms, range {min(saved):.2f} to "
              f"{max(saved):.2f} {[round(s, 2) for s in saved]}")


if __name__ == "__main__":
    main()
