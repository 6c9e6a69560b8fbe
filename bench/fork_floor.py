"""Quick probe (not the benchmark suite): the least CPU a run of a trivial Python script can cost on this machine,
with no engine, no shepherd and no record, to set the FAIL rows of lines 3, 3f, 5 and 5f against what the machine
allows. Three ways to run bench/scripts/noop.py, taking turns block by block so that a shared machine's drift falls
on all three alike; each prints the whole CPU per run (RUSAGE_SELF + RUSAGE_CHILDREN of this process, which
reaps every process it makes):
- spawn: `python noop.py` started by posix_spawn and reaped (the bare pool's run; the floor of a run without fast
  start, whose shepherd is such an interpreter);
- fork: this clean interpreter forks; the child compiles and runs the script as `__main__` and ends with _exit
  (the floor of any fork server: one process per run, no teardown);
- fork-fork: the same with one more process in between that forks the script's process and waits for it (the floor
  of fast start's design, a shepherd and the script's process per run).
Usage: .venv/bin/python bench/fork_floor.py [RUNS_PER_BLOCK] [BLOCKS]"""
import os
import resource
import statistics
import sys

NOOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts", "noop.py")


def cpu_seconds():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def spawn():
    pid = os.posix_spawn(sys.executable, [sys.executable, NOOP], os.environ)
    os.waitpid(pid, 0)


def run_noop():
    with open(NOOP, "rb") as f:
        code = compile(f.read(), NOOP, "exec")
    exec(code, {"__name__": "__main__", "__file__": NOOP})
    os._exit(0)


def fork():
    pid = os.fork()
    if pid == 0:
        run_noop()
    os.waitpid(pid, 0)


def fork_fork():
    pid = os.fork()
    if pid == 0:
        inner = os.fork()
        if inner == 0:
            run_noop()
        os.waitpid(inner, 0)
        os._exit(0)
    os.waitpid(pid, 0)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    blocks = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    ways = {"spawn": spawn, "fork": fork, "fork-fork": fork_fork}
    per_run = {name: [] for name in ways}
    for _ in range(blocks):
        for name, way in ways.items():
            before = cpu_seconds()
            for _ in range(runs):
                way()
            per_run[name].append((cpu_seconds() - before) / runs * 1000)
    print(f"{runs} runs x {blocks} blocks, CPU per run of the whole machine's work for it (ms):")
    for name, figures in per_run.items():
        print(f"  {name:9} median {statistics.median(figures):6.2f}  range {min(figures):.2f}-{max(figures):.2f}")


if __name__ == "__main__":
    main()
