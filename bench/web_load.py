"""Measurement 9 (web under load): 16 clients send mixed API requests (list, read, edit, run now, history) to the
real `manage.py serve` (web processes + the scheduler, SQLite) while 50 tasks fire in the same minute. The
baseline is a minimal Django view (bench/web_load_urls.py: a constant answer, no database) served by the same
`serve`, through the same middleware, to the same 16 clients, around another minute in which 50 tasks fire.

Each client is a process of its own with one keep-alive HTTP connection (http.client) and its own API key; it
sends requests back to back during a window from a few seconds before the minute to some seconds after it.
Throughput is the answered requests per second of the window; latency is measured by the client (send to the
whole answer read). API_THROTTLE_KEY is lifted for the run (the product's 1,200/min per key would turn a fast
client's pace into 429s); DRF then skips the throttle's counting altogether, which in the product costs each API
request about 0.35 ms of CPU with the local-memory cache and 1.7 ms with the file-based cache that `serve` shares
between its web processes (docs/performance.md). `--throttle` keeps the product's rate, to measure that."""
import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    BENCH_DIR, PYTHON, READY_PATTERNS, ROOT, SMOKE, Workspace, cron_at, median, next_slot, percentile, print_rows,
    row, sleep_until, utc_now, wait_until, write_result, yearly_cron,
)

CLIENTS = 4 if SMOKE else 16
FIRING = 5 if SMOKE else 50  # tasks due in each measured minute
IDLE = 10 if SMOKE else 50  # tasks edited and run now (yearly: they never fire by themselves)
BEFORE, AFTER = (1.0, 2.0) if SMOKE else (8.0, 22.0)  # the window around the minute, seconds
# `serve`'s options other than the port, to compare settings: `web_load.py --serve=--threads=4`.
SERVE_OPTIONS = [arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--serve=")]
# The engine's mix: kind -> weight. Edits and runs now go to the idle tasks, reads and history to any task.
MIX = {"list": 20, "read": 35, "history": 25, "edit": 12, "run now": 8}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client(number, port, key, firing, idle, baseline, start_at, end_at, out_path):
    """One client process: requests back to back from start_at to end_at (wall-clock seconds); writes
    [kind, started (s after start_at), latency ms, status] per request to out_path."""
    rng = random.Random(number)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    kinds, weights = zip(*MIX.items())
    everything = firing + idle
    samples, edits = [], 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < end_at:
        if baseline:
            kind, method, path, body = "minimal", "GET", "/bench/minimal", None
        else:
            kind = rng.choices(kinds, weights)[0]
            if kind == "list":
                method, path, body = "GET", "/api/tasks", None
            elif kind == "read":
                method, path, body = "GET", f"/api/tasks/{rng.choice(everything)}", None
            elif kind == "history":
                method, path, body = "GET", f"/api/tasks/{rng.choice(everything)}/executions", None
            elif kind == "edit":
                edits += 1
                body = json.dumps({"task_desc": f"edited by client {number}, edit {edits}"})
                method, path = "PATCH", f"/api/tasks/{rng.choice(idle)}"
            else:
                method, path, body = "POST", f"/api/tasks/{rng.choice(idle)}/execute", "{}"
        sent = time.time()
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = 0  # the connection broke: counted as an error, and a new connection is opened
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        samples.append([kind, sent - start_at, (time.time() - sent) * 1000, status])
    connection.close()
    Path(out_path).write_text(json.dumps(samples))


def run_clients(ws, port, keys, firing, idle, *, baseline, start_at, end_at, label):
    outs = [ws.dir / f"{label}-client-{n}.json" for n in range(CLIENTS)]
    procs = [multiprocessing.Process(target=client, args=(n, port, keys[n], firing, idle, baseline, start_at,
                                                          end_at, outs[n])) for n in range(CLIENTS)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    samples = [s for out in outs for s in json.loads(out.read_text())]
    seconds = end_at - start_at
    answered = [s for s in samples if 200 <= s[3] < 500]
    by_kind = {}
    for kind, _, ms, status in answered:
        by_kind.setdefault(kind, []).append(ms)
    latencies = [s[2] for s in answered]
    return {
        "requests": len(samples),
        "answered": len(answered),
        "errors": len(samples) - len(answered),
        "statuses": {str(code): sum(1 for s in samples if s[3] == code) for code in sorted({s[3] for s in samples})},
        "per_second": len(answered) / seconds,
        "p50_ms": median(latencies),
        "p95_ms": percentile(latencies, 95),
        "median_ms_by_kind": {kind: median(values) for kind, values in sorted(by_kind.items())},
        "count_by_kind": {kind: len(values) for kind, values in sorted(by_kind.items())},
        "load_average": os.getloadavg(),
    }


def make_keys(count):
    from django.contrib.auth.models import User

    from tasks_app.models import ApiKey

    return [ApiKey.issue(User.objects.create_user(f"bench-client-{n}", is_superuser=True, is_staff=True),
                         name="web_load")[1] for n in range(count)]


def start_serve(ws, port):
    """`manage.py serve` with the bench's urls on top of the product's; its output goes to logs/serve.out."""
    out_path = ws.logs_dir / "serve.out"
    env = {**ws.env, "DJANGO_SETTINGS_MODULE": "web_load_settings", "PYTHONPATH": str(BENCH_DIR),
           "PYTHONUNBUFFERED": "1", **({} if "--throttle" in sys.argv else {"API_THROTTLE_KEY": "off"})}
    with open(out_path, "ab") as out:
        proc = subprocess.Popen([PYTHON, str(ROOT / "manage.py"), "serve", f"--port={port}", *SERVE_OPTIONS], env=env,
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def ready():
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}:\n{out_path.read_text()[-3000:]}")
        return any(p.search(out_path.read_text(errors="replace")) for p in READY_PATTERNS)

    wait_until(ready, 120, what="serve's scheduler to be ready")
    return proc


def stop_serve(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def window_around(slot):
    start_at = slot.timestamp() - BEFORE
    return start_at, slot.timestamp() + AFTER


def main():
    ws = Workspace("web_load", workers=8).migrate()
    ws.setup_django()
    from tasks_app.conffile.mirror import mirror_tasks_file

    # Two minutes: the baseline's, then the engine's; FIRING tasks due in each.
    first = next_slot(45 if not SMOKE else 3600)
    second = first + timedelta(minutes=1)
    firing_a = ws.add_tasks(FIRING, schedule=cron_at(first), prefix="a")
    firing_b = ws.add_tasks(FIRING, schedule=cron_at(second), prefix="b")
    idle = ws.add_tasks(IDLE, schedule=yearly_cron, prefix="i")
    mirror_tasks_file(actor="bench", via="cli")  # a conf/tasks.json to rewrite, as a product has
    keys = make_keys(CLIENTS)
    from django.db import connections

    connections.close_all()  # the client processes are forked from this one
    port = free_port()
    proc = start_serve(ws, port)
    results = {}
    try:
        # Warm every web process up (imports, first queries) before measuring.
        run_clients(ws, port, keys, firing_b, idle, baseline=False, start_at=time.time() + 0.5,
                    end_at=time.time() + (1.5 if SMOKE else 4), label="warm-up")
        for label, slot, firing, baseline in (("baseline", first, firing_a, True),
                                              ("engine", second, firing_b, False)):
            start_at, end_at = window_around(slot) if not SMOKE else (time.time() + 0.5, time.time() + 3.5)
            results[label] = run_clients(ws, port, keys, firing, idle, baseline=baseline, start_at=start_at,
                                         end_at=end_at, label=label)
            results[label]["window"] = [start_at, end_at]
            print(f"  {label}: {json.dumps(results[label])}", flush=True)
        if not SMOKE:
            sleep_until(second + timedelta(seconds=AFTER + 5))
        fired = {e["task__task_id"] for e in ws.executions() if e["trigger"] == "schedule"}
    finally:
        stop_serve(proc)
    engine, base = results["engine"], results["baseline"]
    kinds = engine["median_ms_by_kind"]
    reads = median([v for k, v in kinds.items() if k in ("read", "list", "history")])
    load = engine["load_average"]
    rows = [
        row(f"9. web under load ({CLIENTS} clients, mixed API, {FIRING} tasks firing in the minute): requests "
            f"answered per second, engine vs a minimal Django view (load average {load[0]:.1f})",
            engine["per_second"], base["per_second"], bar=">= 0.6x the minimal view", unit="/s",
            passed=engine["per_second"] >= 0.6 * base["per_second"] and not engine["errors"]),
        row("9. same load: latency of every request, p50 / p95 (minimal view's p95 as baseline)",
            f"{engine['p50_ms']:.0f} / {engine['p95_ms']:.0f} ms", base["p95_ms"], unit="ms",
            ratio=engine["p95_ms"] / base["p95_ms"], bar="p95 <= 300 ms", passed=engine["p95_ms"] <= 300),
        row("9. same load: edits' median latency vs reads' (the median of list, read and history medians)",
            kinds.get("edit"), reads, unit="ms", bar="<= 3x reads",
            passed=kinds.get("edit") is not None and kinds["edit"] <= 3 * reads),
    ]
    details = {**results, "mix": MIX, "clients": CLIENTS, "slots": [first, second],
               "fired": {"baseline minute": len(fired & set(firing_a)), "engine minute": len(fired & set(firing_b))},
               "web_processes": len(os.sched_getaffinity(0))}
    print_rows(rows)
    write_result("web_load", rows, details)
    ws.cleanup()


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
