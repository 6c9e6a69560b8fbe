"""Quick probe (not the benchmark suite): the whole machine's CPU per fast-start run, and who spends it. Runs N
fast-start runs of a trivial script through the real executor (runner.run_execution, cgroups as configured),
`--threads` at a time as the executor's workers would, and prints per run:
- machine: every CPU's busy time (/proc/stat, all but idle and iowait), so other load on the machine counts too;
- engine: this process (the engine's run_execution and the probe around it), its own threads, not its children;
- fork server: the zygote's own CPU (it forks and reaps the shepherds);
- shepherds + scripts: what the zygote reaped (its cutime and cstime: each shepherd with the script's process it
  reaped), and of that the scripts' processes alone (the shepherds' reports);
- kernel threads: kworkers, RCU, ksoftirqd (cgroup removal, deferred frees), from their /proc stat;
- rest: the machine less the above (interrupts, other processes: the load of other users of the machine).
The zygote is not restarted every forkserver.RESTART_EVERY runs here, so that one zygote's counters cover the run.
With --no-fast the runs do not ask for fast start (a Python run's shepherd spawned by the engine, or forked by the
zygote where the engine does that for runs without fast start): the shepherds and scripts then count both what
the zygote reaped and what the engine reaped (its own cutime and cstime).
Usage: .venv/bin/python bench/fast_cpu_probe.py [runs] [--threads K] [--cgroups-off] [--early] [--no-fast]"""
import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
SCRIPT = "import time; _STAMP_NS = time.time_ns()\nimport os\n"


def machine_busy() -> float:
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK


def machine_fields() -> list[int]:
    """user, nice, system, idle, iowait, irq, softirq, steal (ticks)."""
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:9]]


def other_processes(ours) -> dict:
    """pid -> utime + stime (ticks) of every user-space process but ours."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in ours:
            try:
                fields = stat_fields(name)
            except OSError:
                continue
            if fields[1] != "2" and name != "2":
                found[name] = int(fields[11]) + int(fields[12])
    return found


def stat_fields(pid) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return text[text.rfind(")") + 2:].split()


def own_and_children(pid) -> tuple[float, float, int]:
    """(utime + stime, cutime + cstime) of a process, in seconds, and its reaped children's minor page faults
    (each a page copied on write, or mapped again, in a fork: a count that the machine's load does not move)."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / TICK, (int(fields[13]) + int(fields[14])) / TICK, int(fields[8])


def kernel_threads() -> float:
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fields = stat_fields(name)
        except OSError:
            continue
        if fields[1] == "2" or name == "2":  # kthreadd's children
            total += int(fields[11]) + int(fields[12])
    return total / TICK


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", type=int, nargs="?", default=300)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--cgroups-off", action="store_true")
    parser.add_argument("--early", action="store_true", help="each run prepared (held) 0.3 s ahead of its start")
    parser.add_argument("--no-fast", action="store_true", help="runs without fast start (task_fast_start off)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fast_cpu_probe_"))
    try:
        os.environ.update(TASKS_DIR=str(work / "tasks"), LOGS_DIR=str(work / "logs"), CONF_DIR=str(work / "conf"),
                          LOG_LEVEL="WARNING", SCHEDULER_MAX_WORKERS=str(max(args.threads, 3)))
        if args.cgroups_off:
            os.environ["SCHEDULER_CGROUPS"] = "off"
        (work / "tasks").mkdir()
        (work / "tasks" / "probe_noop.py").write_text(SCRIPT)
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")
        import django

        django.setup()
        probe(args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def probe(args):
    from tasks_app.engine import forkserver
    from tasks_app.engine.preparation import prepare_early
    from tasks_app.engine.runner import run_execution
    from tasks_app.models import Task, TaskExecution

    forkserver.RESTART_EVERY = 10 ** 9
    task = Task(task_id="probe", task_name="probe", task_exec="probe_noop.py",
                task_fast_start=not args.no_fast)
    ids = iter(range(1, 10 ** 9))
    lock = threading.Lock()
    script_cpu = []

    def one():
        with lock:
            execution = TaskExecution(execution_id=next(ids), task=task)
        if args.early:
            prepare_early(execution)
            time.sleep(0.3)
        result = run_execution(execution)
        assert result.status == "success", result
        script_cpu.append((result.limits or {}).get("start"))

    for _ in range(10):  # warm up: the zygotes started, the engine's imports and caches made
        one()
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(lambda _: one(), range(args.threads * 3)))  # as many zygotes as the threads use
    zygotes = [z.proc.pid for z in forkserver._zygotes]
    script_cpu.clear()
    ours = {os.getpid(), *zygotes}
    fields0, others0 = machine_fields(), other_processes(ours)
    before = (machine_busy(), own_and_children(os.getpid())[0], [own_and_children(p) for p in zygotes],
              kernel_threads(), time.monotonic(), own_and_children(os.getpid()))
    with concurrent.futures.ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(lambda _: one(), range(args.runs)))
    after = (machine_busy(), own_and_children(os.getpid())[0], [own_and_children(p) for p in zygotes],
             kernel_threads(), time.monotonic(), own_and_children(os.getpid()))
    fields1, others1 = machine_fields(), other_processes(ours)
    assert [z.proc.pid for z in forkserver._zygotes] == zygotes, "a zygote was replaced during the probe"
    n = args.runs
    machine = (after[0] - before[0]) / n * 1000
    engine = (after[1] - before[1]) / n * 1000
    zyg_own = sum(a[0] - b[0] for a, b in zip(after[2], before[2])) / n * 1000
    zyg_children = sum(a[1] - b[1] for a, b in zip(after[2], before[2])) / n * 1000
    faults = sum(a[2] - b[2] for a, b in zip(after[2], before[2])) / n
    # Shepherds the engine spawned (and the scripts they reaped), reaped by the engine itself.
    spawned = (after[5][1] - before[5][1]) / n * 1000
    zyg_children += spawned
    faults += (after[5][2] - before[5][2]) / n
    kthreads = (after[3] - before[3]) / n * 1000
    rest = machine - engine - zyg_own - zyg_children - kthreads
    load = os.getloadavg()[0]
    print(f"runs {n}, threads {args.threads}, cgroups {'off' if args.cgroups_off else 'auto'}, early {args.early},"
          f" fast {not args.no_fast},"
          f" {n / (after[4] - before[4]):.0f} runs/s, load {load:.2f}, starts {set(script_cpu)}")
    print(f"ms of CPU per run: machine {machine:.2f} | engine {engine:.2f} | fork server {zyg_own:.2f} |"
          f" shepherds+scripts {zyg_children:.2f} (of which reaped by the engine {spawned:.2f}) | kernel threads {kthreads:.2f} | rest {rest:.2f}")
    print(f"minor page faults per run in the shepherd and the script's process: {faults:.0f}")
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    print("machine, ms per run: " + ", ".join(f"{k} {(b - a) / TICK / n * 1000:.2f}"
                                              for k, a, b in zip(names, fields0, fields1) if k != "idle"))
    others = {pid: others1[pid] - others0.get(pid, 0) for pid in others1}
    print(f"other processes (alive at the end, not ours): {sum(others.values()) / TICK / n * 1000:.2f} ms per run")
    for pid, ticks in sorted(others.items(), key=lambda kv: -kv[1])[:5]:
        if ticks:
            print(f"  {pid} {open(f'/proc/{pid}/comm').read().strip()}: {ticks / TICK / n * 1000:.2f}")
    forkserver.stop()


if __name__ == "__main__":
    main()
