"""Standby schedulers on PostgreSQL: how long a handover takes. Two real `runscheduler` processes and a web server
(`serve --no-scheduler`) on the database of $DATABASE_URL (migrated here; use a throwaway one). The leader is
killed with SIGKILL, or stopped with SIGTERM, several times; each time it measures, from the signal:
  - when the standby says "Scheduler engine started" (it leads and has recovered and scheduled everything);
  - when /healthz/scheduler first answers 503, and when it answers 200 again.
The killed one is started again as the next standby. Bars: the issue's 10 s after a kill -9, and 503 within
three heartbeats (6 s). Not part of run_all (it needs PostgreSQL): `DATABASE_URL=postgres://... python
bench/standby.py [--rounds N]`."""
import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PYTHON, ROOT, median, row, print_rows, wait_until, write_result  # noqa: E402

HEARTBEAT = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health(port) -> int:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz/scheduler")
        status = connection.getresponse().status
        connection.close()
        return status
    except OSError:
        return 0


class Scheduler:
    def __init__(self, env, folder, number):
        self.log = folder / f"scheduler-{number}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([PYTHON, str(ROOT / "manage.py"), "runscheduler"], cwd=ROOT, env=env,
                                         stdout=out, stderr=subprocess.STDOUT)

    def said(self, text) -> bool:
        return text in self.log.read_text(errors="replace")


def handover(leader, standby, port, how) -> dict:
    """Signal the leader; follow the standby's log and /healthz/scheduler every 20 ms."""
    os.kill(leader.proc.pid, how)
    began = time.monotonic()
    first_503 = led = back = None
    while back is None or led is None:
        now = time.monotonic() - began
        if now > 60:
            raise TimeoutError("no handover within 60 s")
        status = health(port)
        if status == 503 and first_503 is None:
            first_503 = now
        if status == 200 and (first_503 is not None or led is not None) and back is None:
            back = now
        if led is None and standby.said("Scheduler engine started"):
            led = now
        time.sleep(0.02)
    leader.proc.wait(30)
    return {"signal": signal.Signals(how).name, "standby_leads_s": round(led, 2),
            "healthz_503_s": None if first_503 is None else round(first_503, 2), "healthz_200_again_s": round(back, 2)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL must name a throwaway PostgreSQL database")
    folder = Path(tempfile.mkdtemp(prefix="bench-standby-"))
    for sub in ("conf", "logs"):
        (folder / sub).mkdir()
    env = {**os.environ, "CONF_DIR": str(folder / "conf"), "LOGS_DIR": str(folder / "logs"),
           "SCHEDULER_WATCH_INTERVAL": "0", "PYTHONUNBUFFERED": "1",
           "DJANGO_SILENCED_SYSTEM_CHECKS": "tasks_app.W001"}
    subprocess.run([PYTHON, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    web = subprocess.Popen([PYTHON, str(ROOT / "manage.py"), "serve", "--no-scheduler", f"--port={port}"], cwd=ROOT,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = []
    try:
        wait_until(lambda: health(port) in (200, 503), 60, what="the web server")
        leader = Scheduler(env, folder, 1)
        started.append(leader)
        wait_until(lambda: leader.said("Scheduler engine started"), 60, what="the first scheduler")
        rounds = []
        for number in range(args.rounds + 1):
            standby = Scheduler(env, folder, number + 2)
            started.append(standby)
            wait_until(lambda: standby.said("Standby: the scheduler"), 60, what="the standby")
            wait_until(lambda: health(port) == 200, 30, what="a leader")
            # The last round stops the leader with SIGTERM: it releases the lease.
            how = signal.SIGTERM if number == args.rounds else signal.SIGKILL
            rounds.append(handover(leader, standby, port, how))
            print(rounds[-1], flush=True)
            leader = standby
    finally:
        for process in started:
            if process.proc.poll() is None:
                process.proc.send_signal(signal.SIGTERM)
                process.proc.wait(60)
        web.send_signal(signal.SIGTERM)
        web.wait(30)
    kills = [r for r in rounds if r["signal"] == "SIGKILL"]
    leads = [r["standby_leads_s"] for r in kills]
    downs = [r["healthz_503_s"] for r in kills if r["healthz_503_s"] is not None]
    stop = rounds[-1]
    rows = [
        row("kill -9 of the leader: the standby leads after", f"median {median(leads):.1f} s, max {max(leads):.1f} s",
            bar="<= 10 s", passed=max(leads) <= 10, unit="s"),
        row("kill -9 of the leader: /healthz/scheduler 503 after",
            f"median {median(downs):.1f} s, max {max(downs):.1f} s ({len(downs)} of {len(kills)} seen)"
            if downs else "never seen (the standby took over first)", bar=f"<= {3 * HEARTBEAT:.0f} s",
            passed=not downs or max(downs) <= 3 * HEARTBEAT, unit="s"),
        row("SIGTERM of the leader: the standby leads after", f"{stop['standby_leads_s']:.1f} s", bar="<= 10 s",
            passed=stop["standby_leads_s"] <= 10, unit="s"),
    ]
    print_rows(rows)
    write_result("standby", rows, {"rounds": rounds})


if __name__ == "__main__":
    main()
