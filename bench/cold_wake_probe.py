"""Quick probe (not the benchmark suite): how much more CPU the same Python work costs on this machine right
after the thread slept, as an idle scheduler's tick, a held run's start at its slot or a wake-up does. It times
one fixed piece of work (JSON, an e-mail message) by time.thread_time(), back to back and after sleeping 0.01 to
5 s, and prints the median for each pause. On a machine whose caches and TLB stay warm across a short sleep the
figures are close; on a VM that gives the host its CPU while the guest idles they grow with the pause, and every
row that measures work after an idle moment (idle CPU, lines 1 and 1f, the wake-up rows) grows with them.

With a database it also times the one statement an idle scheduler cannot skip, its lease renewal: an
autocommitted UPDATE of one row, through sqlite3 on a WAL file (renewed every 10 s) and, given a PostgreSQL URL,
through libpq's exec_params as the engine sends it (renewed every SCHEDULER_HEARTBEAT_SECONDS, 2 s), and prints
what that statement alone costs a core: the floor of the idle CPU rows for the heartbeat the product keeps.
Usage: .venv/bin/python bench/cold_wake_probe.py [postgres://user@host/db]"""
import email.message
import json
import os
import sqlite3
import sys
import tempfile
import time

PAUSES = (0, 0.01, 0.1, 0.5, 2, 5)


def work() -> int:
    d = {}
    for i in range(3000):
        d[str(i)] = json.dumps({"a": i, "b": [i, i * 2], "c": str(i)})
    message = email.message.EmailMessage()
    message["Subject"] = "x"
    message.set_content("y" * 100)
    return len(d) + len(message.as_string())


def after_pauses(what: str, do, pauses=PAUSES) -> dict:
    """The median CPU (ms) of do() after each pause, printed; {pause: median}."""
    do()
    medians = {}
    for pause in pauses:
        costs = []
        for _ in range(5 if pause >= 2 else 10):
            if pause:
                time.sleep(pause)
            began = time.thread_time()
            do()
            costs.append((time.thread_time() - began) * 1000)
        costs.sort()
        medians[pause] = costs[len(costs) // 2]
        print(f"after {pause:>4} s asleep: median {medians[pause]:.3f} ms of CPU for {what}"
              f" (min {costs[0]:.3f}, max {costs[-1]:.3f})", flush=True)
    return medians


def sqlite_renewal():
    folder = tempfile.mkdtemp(prefix="cold_wake_")
    db = sqlite3.connect(os.path.join(folder, "db.sqlite3"), isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE lease (name TEXT PRIMARY KEY, renewed_at TEXT, expires_at TEXT)")
    db.execute("INSERT INTO lease VALUES ('scheduler', '', '')")
    sql = ("UPDATE lease SET renewed_at = STRFTIME('%Y-%m-%d %H:%M:%f', 'now'), "
           "expires_at = STRFTIME('%Y-%m-%d %H:%M:%f', 'now', ?) WHERE name = ?")
    return lambda: db.execute(sql, ("+14.0 seconds", "scheduler"))


def postgresql_renewal(url: str):
    import psycopg

    db = psycopg.connect(url, autocommit=True)
    db.execute("CREATE TEMP TABLE lease (name TEXT PRIMARY KEY, renewed_at TIMESTAMPTZ, expires_at TIMESTAMPTZ)")
    db.execute("INSERT INTO lease VALUES ('scheduler', now(), now())")
    sql = (b"UPDATE lease SET renewed_at = STATEMENT_TIMESTAMP(), "
           b"expires_at = STATEMENT_TIMESTAMP() + $1 * INTERVAL '1 second' WHERE name = $2")
    return lambda: db.pgconn.exec_params(sql, [b"6.0", b"scheduler"])


def floor(name: str, cost_ms: float, every_s: float):
    print(f"{name}: a renewal every {every_s:g} s at {cost_ms:.3f} ms is {cost_ms / every_s / 10:.3f} % of a core "
          "for the renewals alone (the idle bar is 0.05 %)")


def main():
    after_pauses("the same work", work)
    slept = after_pauses("a lease renewal on SQLite (sqlite3, WAL)", sqlite_renewal(), pauses=(0, 2, 10))
    floor("SQLite", slept[10], 10)
    if len(sys.argv) > 1:
        slept = after_pauses("a lease renewal on PostgreSQL (libpq exec_params)", postgresql_renewal(sys.argv[1]),
                             pauses=(0, 2, 10))
        floor("PostgreSQL", slept[2], 2)
        floor("PostgreSQL with SCHEDULER_HEARTBEAT_SECONDS=10", slept[10], 10)


if __name__ == "__main__":
    main()
