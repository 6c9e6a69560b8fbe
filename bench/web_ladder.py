"""Why line 9 (web under load) is where it is: the CPU one API request costs, rung by rung, measured inside one
process and so independent of the machine's load. Each rung adds one layer to the one before: the minimal view
through the whole middleware (line 9's baseline) -> a DRF view answering a constant with the API's authentication
(an API key), permission and throttle -> the same with one ORM query -> each endpoint of line 9's mix (a list of
50 tasks, a read, a history, a run now, an edit), and the mix's weighted mean.

The requests go to Django's WSGI handler as `serve`'s web processes run it (kept database connections,
conf/tasks.json written by a background thread, SQLite writers queued), without the network and waitress; CPU is
time.thread_time() of the calling thread around the handler, body read and closed included. The tasks.json
writer thread's CPU is not in an edit's figure (it is shared by the edits of a second; docs/performance.md).
Rungs are measured in interleaved rounds (every rung once per round), so a slow spell touches them all alike.
Then what line 9 pays around the handler: `serve`'s web process (waitress) on a socket and one keep-alive client,
their CPU per request, and the arithmetic of 0.6x.

`--profile=KIND` (list, read, history, edit, run-now, drf-constant...) prints a cProfile of that request instead
(`--sort=tottime` to order it by own time, `--dump=FILE` to keep it).
API_THROTTLE_KEY is lifted, as line 9 does (its counting: docs/performance.md; one key at the ladder's pace would
be refused after 1,200 requests a minute)."""
import cProfile
import http.client
import io
import json
import pstats
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    BENCH_DIR, PYTHON, ROOT, SMOKE, Workspace, insert_finished_runs, median, percentile, print_rows, proc_cpu_seconds,
    row, sql_time, wait_until, write_result, yearly_cron)
from web_load import MIX  # noqa: E402

TASKS = 150  # as line 9: 100 that fire in its two minutes, 50 edited and run now
RUNS_PER_TASK = 20
ROUNDS = 3 if SMOKE else 40
PER_ROUND = 2 if SMOKE else 10  # requests of each rung per round
PROFILE = next((arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--profile=")), None)
SORT = next((arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--sort=")), "cumulative")


def environ(method, path, key, body=b"", query=""):
    """A WSGI environ as waitress builds it for line 9's clients (keep-alive, JSON, a Bearer key)."""
    return {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {key}", "HTTP_CONNECTION": "keep-alive",
        "HTTP_ACCEPT_ENCODING": "identity", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http", "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }


class Rungs:
    """Each rung: a function returning the next request's environ (the mix's endpoints pick tasks like line 9)."""

    def __init__(self, key, tasks, idle):
        self.key, self.tasks, self.idle, self.n = key, tasks, idle, 0

    def _pick(self, among):
        self.n += 1
        return among[(self.n * 7919) % len(among)]

    def get(self, path, query=""):
        return lambda: environ("GET", path, self.key, query=query)

    def all(self):
        return {
            "minimal view": self.get("/bench/minimal"),
            "DRF constant": self.get("/bench/drf-constant"),
            "DRF + one query": lambda: environ("GET", "/bench/drf-one-query", self.key,
                                               query=f"task_id={self._pick(self.tasks)}"),
            "list": self.get("/api/tasks"),
            "read": lambda: environ("GET", f"/api/tasks/{self._pick(self.tasks)}", self.key),
            "history": lambda: environ("GET", f"/api/tasks/{self._pick(self.tasks)}/executions", self.key),
            "run now": lambda: environ("POST", f"/api/tasks/{self._pick(self.idle)}/execute", self.key, b"{}"),
            "edit": lambda: environ("PATCH", f"/api/tasks/{self._pick(self.idle)}", self.key, json.dumps(
                {"task_desc": f"edited {self.n}"}).encode()),
        }


def call(application, env):
    """One request through the handler; its CPU (thread_time, seconds) and status."""
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])

    before = time.thread_time()
    result = application(env, start_response)
    try:
        b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return time.thread_time() - before, answer["status"]


def prepare():
    ws = Workspace("web_ladder", extra_env={"API_THROTTLE_KEY": "off"}).migrate()
    ws.env["DJANGO_SETTINGS_MODULE"] = "web_ladder_settings"  # after `migrate`, which runs without bench/
    ws.setup_django()
    tasks = ws.add_tasks(TASKS - 50, schedule=yearly_cron, prefix="f")
    idle = ws.add_tasks(50, schedule=yearly_cron, prefix="i", start=TASKS)
    from django.contrib.auth.models import User

    from tasks_app.conffile.mirror import mirror_tasks_file
    from tasks_app.models import ApiKey, Task

    pks = dict(Task.objects.values_list("task_id", "pk"))
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    insert_finished_runs(ws.db_path, ({
        "task_id": pks[task_id], "status": "success", "scheduled_time": sql_time(start + timedelta(minutes=k)),
        "queued_at": sql_time(start + timedelta(minutes=k)), "start_time": sql_time(start + timedelta(minutes=k)),
        "end_time": sql_time(start + timedelta(minutes=k, seconds=1)), "return_code": 0, "duration": 1.0,
    } for task_id in tasks + idle for k in range(RUNS_PER_TASK))).close()
    mirror_tasks_file(actor="bench", via="cli")
    # A superuser, as line 9's clients: the role needs no group query (an operator's costs one more).
    _, key = ApiKey.issue(User.objects.create_user("ladder", is_superuser=True, is_staff=True), name="ladder")
    return ws, key, tasks + idle, idle


def as_serve_runs_it():
    """The WSGI handler with what scheduler_site/webworker.py sets up around it in each web process."""
    from django.core.wsgi import get_wsgi_application
    from django.db import connections

    from scheduler_site.sqlite3.base import queue_writers
    from tasks_app.conffile import background

    application = get_wsgi_application()
    for alias in connections:
        connections[alias].settings_dict.update(CONN_MAX_AGE=None, CONN_HEALTH_CHECKS=True)
    queue_writers()
    background.start()
    return application, background


def measure(application, rungs):
    costs = {name: [] for name in rungs}
    statuses = {name: {} for name in rungs}
    for _ in range(2):  # warm-up: imports, first queries, caches
        for make in rungs.values():
            call(application, make())
    for _ in range(ROUNDS):
        for name, make in rungs.items():
            for _ in range(PER_ROUND):
                cpu, status = call(application, make())
                costs[name].append(cpu * 1000)
                statuses[name][status] = statuses[name].get(status, 0) + 1
    return costs, statuses


def profile(application, make, count=300):
    for _ in range(5):
        call(application, make())
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for _ in range(count):
        call(application, make())
    profiler.disable()
    dump = next((arg.split("=", 1)[1] for arg in sys.argv[1:] if arg.startswith("--dump=")), None)
    if dump:
        profiler.dump_stats(dump)  # for pstats or snakeviz
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(SORT).print_stats(60)
    print(out.getvalue())


def _arithmetic(minimal_served, mix_mean, minimal_handler):
    """Line 9 is CPU-bound on its cores (web processes and clients share them): requests per second go as
    1 / (CPU per request, server and client). The minimal view's is `minimal_served`'s sum; an API request's adds
    what its handler costs beyond the minimal view's handler. 0.6x needs that sum within minimal / 0.6."""
    whole = minimal_served["web process"] + minimal_served["client"]
    allowed = whole / 0.6 - whole
    return row(f"9l. the mix's CPU per request beyond the minimal view's, vs what 0.6x of the minimal view's "
               f"throughput allows (minimal view, served: {whole:.2f} ms with its client; 0.6x: <= {whole / 0.6:.2f} "
               f"ms)", mix_mean - minimal_handler, allowed, unit="ms", bar="information", passed=None)


def served(ws, key, count):
    """The cost around the handler that line 9 also pays: `serve`'s own web process (scheduler_site/webworker.py,
    waitress, 4 threads) on a socket, one keep-alive client (http.client, as line 9's) sending `count` requests
    of the minimal view and then of the DRF constant. CPU per request of the web process (all its threads) and of
    the client; the in-handler figures of the ladder are inside the web process's."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(64)
    port = listening.getsockname()[1]
    env = {**ws.env, "PYTHONPATH": str(BENCH_DIR)}
    web = subprocess.Popen([PYTHON, "-m", "scheduler_site.webworker", f"--fd={listening.fileno()}", "--threads=4",
                            "--max-request-body-size=1048576"], env=env, cwd=ROOT, pass_fds=[listening.fileno()],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    listening.close()
    headers = {"Authorization": f"Bearer {key}"}
    figures = {}
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        wait_until(lambda: _answers(connection, headers), 60, what="the web process to answer")
        for path in ("/bench/minimal", "/bench/drf-constant"):
            for _ in range(50):
                _get(connection, path, headers)
            server, client = proc_cpu_seconds(web.pid), time.thread_time()
            for _ in range(count):
                _get(connection, path, headers)
            figures[path] = {"web process": (proc_cpu_seconds(web.pid) - server) / count * 1000,
                             "client": (time.thread_time() - client) / count * 1000}
        connection.close()
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
    return figures


def _get(connection, path, headers):
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}")


def _answers(connection, headers):
    try:
        _get(connection, "/bench/minimal", headers)
        return True
    except (OSError, http.client.HTTPException):
        connection.close()
        return False


def main():
    ws, key, tasks, idle = prepare()
    try:
        report(ws, key, tasks, idle)
    finally:
        ws.cleanup()


def report(ws, key, tasks, idle):
    application, background = as_serve_runs_it()
    rungs = Rungs(key, tasks, idle).all()
    try:
        if PROFILE:
            wanted = {name.replace(" ", "-").lower(): make for name, make in rungs.items()}
            profile(application, wanted[PROFILE])
            return
        costs, statuses = measure(application, rungs)
    finally:
        background.stop()
    refused = {name: s for name, s in statuses.items() if set(s) - {200, 201, 202}}
    if refused:
        raise SystemExit(f"requests refused: {refused}")
    medians = {name: median(values) for name, values in costs.items()}
    means = {name: sum(values) / len(values) for name, values in costs.items()}
    weight = sum(MIX.values())
    mix_mean = sum(means[kind] * share for kind, share in MIX.items()) / weight
    mix_median = sum(medians[kind] * share for kind, share in MIX.items()) / weight
    minimal = medians["minimal view"]
    from django.db import connections

    connections.close_all()  # the web process opens its own
    outside = served(ws, key, 200 if SMOKE else 2000)
    rows = []
    for name, values in costs.items():
        share = f", {MIX[name] * means[name] / weight / mix_mean:.0%} of the mix's CPU" if name in MIX else ""
        rows.append(row(f"9l. CPU per request, {name} (p10-p90 {percentile(values, 10):.2f}-"
                        f"{percentile(values, 90):.2f} ms, mean {means[name]:.2f} ms{share})",
                        medians[name], minimal, unit="ms", bar="information", passed=None))
    rows.append(row(f"9l. CPU per request, line 9's mix {MIX} (weighted mean of the means; of the medians "
                    f"{mix_median:.2f} ms)", mix_mean, minimal, unit="ms", bar="information", passed=None))
    for path, cost in outside.items():
        rows.append(row(f"9l. served by `serve`'s web process (waitress, one keep-alive client), {path}: CPU per "
                        f"request of the web process (client's: {cost['client']:.2f} ms)", cost["web process"],
                        minimal, unit="ms", bar="information", passed=None))
    rows.append(_arithmetic(outside["/bench/minimal"], mix_mean, means["minimal view"]))
    print_rows(rows)
    write_result("web_ladder", rows, {"served_ms": outside, "costs_ms": costs, "statuses": statuses, "means_ms": means,
                                      "medians_ms": medians, "mix": MIX})


if __name__ == "__main__":
    main()
