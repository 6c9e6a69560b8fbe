"""Profile (not the benchmark suite): split the CPU samples of a bench/fast_cpu_probe.py run by process (the
engine, the fork server, each run's shepherd, the script's process) and by phase. Python has no frame pointers
here, so the phases are told apart by each process's own events (its exec, its first name change, which the
shepherd makes once it has read its spec, the shepherd's fork of the script's process) and by kernel stacks
(page faults, fork, exit). Each sample is 1/HZ s of CPU; the figures are per shepherd (per run).
Usage:
  perf record -F 2000 -g -o /tmp/p.data -- .venv/bin/python bench/fast_cpu_probe.py 300 --threads 2 --no-fast
  perf script -i /tmp/p.data --show-task-events -F pid,tid,comm,time,event,ip,sym > /tmp/p.txt
  python bench/shepherd_phases.py /tmp/p.txt 2000"""
import collections
import re
import sys

path, hz = sys.argv[1], float(sys.argv[2])
ms = 1000.0 / hz
fork_re = re.compile(r"PERF_RECORD_FORK\((\d+):(\d+)\):\((\d+):(\d+)\)")
parent, events, samples = {}, collections.defaultdict(dict), []
root, cur = None, None
def head(line):
    words = line.split()
    i = next(k for k, w in enumerate(words) if re.fullmatch(r"\d+/\d+", w))
    return int(words[i].split("/")[0]), " ".join(words[:i]), float(words[i + 1].rstrip(":"))
for line in open(path, errors="replace"):
    if "PERF_RECORD" in line:
        pid, comm, t = head(line)
        if "PERF_RECORD_FORK" in line:
            m = fork_re.search(line)
            if m.group(1) == m.group(2):
                parent[int(m.group(1))] = int(m.group(3))
                events[int(m.group(3))].setdefault("forks", []).append((t, int(m.group(1))))
        elif "COMM exec" in line:
            if root is None:
                root = pid
            events[pid]["exec"] = t
        elif "PERF_RECORD_COMM" in line:
            events[pid].setdefault("named", t)
        continue
    if line.strip() and not line.startswith("\t"):
        pid, comm, t = head(line)
        cur = [pid, comm, t, []]
        samples.append(cur)
    elif line.strip() and cur is not None:
        parts = line.split(None, 1)
        cur[3].append(parts[1].strip() if len(parts) > 1 else "")
zygotes = {pid for pid, ev in events.items() if pid != root and len(ev.get("forks", [])) > 10}
def role(pid):
    if pid == root: return "engine"
    if pid in zygotes: return "zygote"
    p = parent.get(pid)
    if p == root or p in zygotes: return "shepherd"
    if p is not None and (parent.get(p) == root or parent.get(p) in zygotes): return "script"
    return "other"


def has(stack, *names):
    return any(any(n in s for n in names) for s in stack)
def phase(r, pid, t, stack):
    ev = events[pid]
    if has(stack, "do_exit", "exit_mmap", "do_group_exit"):
        return "exit (kernel: unmapping, freeing)"
    if "exec" in ev and t <= ev["exec"] or has(stack, "do_execveat", "bprm_execve"):
        return "before its exec (Popen's child) and execve"
    fault = has(stack, "asm_exc_page_fault")
    if r == "shepherd":
        forks = ev.get("forks", [])
        if has(stack, "kernel_clone", "copy_process", "dup_mmap"):
            return "fork of the script's process"
        if "exec" in ev and has(stack, "_dl_") or (stack and stack[-1].startswith("_dl_")):
            return "dynamic loader"
        named = ev.get("named")
        if named is None or t < named:
            return "interpreter start, site, imports, spec read" + (" [page faults]" if fault else "")
        if not forks or t < forks[0][0]:
            return "own set-up (prctl, signals, masking, gc.freeze)" + (" [page faults]" if fault else "")
        return "after the fork: supervising, report" + (" [page faults]" if fault else "")
    if r == "script":
        if "exec" in ev:  # a new interpreter executed for the script
            return "after its exec: interpreter, script, end" + (" [page faults]" if fault else "")
        named = ev.get("named")
        if named is None or t < named:
            return "set-up part 1 (session, limits, cwd, prctl, signals)" + (" [page faults]" if fault else "")
        return "set-up part 2 (fds, environment, locale), script, end" + (" [page faults]" if fault else "")
    return ""
counts, pids = collections.Counter(), collections.defaultdict(set)
for pid, comm, t, stack in samples:
    r = role(pid)
    pids[r].add(pid)
    counts[(r, phase(r, pid, t, stack))] += 1
runs = len(pids["shepherd"]) or 1
print(f"root {root}, shepherds {len(pids['shepherd'])}, scripts {len(pids['script'])}, zygotes {len(zygotes)};"
      f" ms per shepherd (sample = {ms:.2f} ms of CPU)")
for r in ("engine", "zygote", "shepherd", "script", "other"):
    tot = sum(v for (rr, _), v in counts.items() if rr == r)
    if not tot: continue
    print(f"{r}: {tot * ms / runs:.2f} ms per run")
    for (rr, ph), v in sorted(counts.items(), key=lambda kv: -kv[1]):
        if rr == r and ph:
            print(f"    {ph}: {v * ms / runs:.2f} ms ({100 * v / tot:.0f} %)")
