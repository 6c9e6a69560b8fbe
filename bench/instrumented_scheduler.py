"""`manage.py runscheduler` with instruments: with $BENCH_COUNTERS_FILE, every SQLite connection gets a trace
callback that counts write transactions (written to the file every 0.2 s and at exit); the engine's log
lines get millisecond UTC timestamps, so a launch can be split into its phases."""
import json
import os
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
counts = {"commits": 0, "rollbacks": 0, "statements": 0, "writes": 0, "connections": 0}
lock = threading.Lock()


def install(sender, connection, **kwargs):
    if connection.vendor != "sqlite":
        return
    raw = connection.connection
    with lock:
        counts["connections"] += 1

    def trace(sql):
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        with lock:
            counts["statements"] += 1
            if verb == "COMMIT" or verb == "END":
                counts["commits"] += 1
            elif verb == "ROLLBACK":
                counts["rollbacks"] += 1
            elif verb in WRITES:
                counts["writes"] += 1
                # Outside BEGIN ... COMMIT a write statement is a transaction (and a commit) of its own.
                if not raw.in_transaction:
                    counts["commits"] += 1

    raw.set_trace_callback(trace)


def millisecond_log_times():
    import logging
    import time

    from tasks_app.logs.escape import EscapingFormatter

    # The product's formatter (LOGGING's "document"), only with milliseconds and UTC: one formatter for the console
    # and sys.log, so a record is formatted once, as in the product (a plain logging.Formatter formatted it twice).
    formatter = EscapingFormatter("%(asctime)s.%(msecs)03d - %(levelname)s - %(name)s - %(message)s",
                                  "%Y-%m-%d %H:%M:%S")
    formatter.converter = time.gmtime
    for name in ("SchedulerEngine", "Scheduler", "TaskExecutor"):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)


def dump():
    path = os.environ.get("BENCH_COUNTERS_FILE")
    if path:
        with lock:
            data = dict(counts)
        tmp = f"{path}.tmp"
        Path(tmp).write_text(json.dumps(data))
        os.replace(tmp, path)


def dump_forever():
    import time

    while True:
        time.sleep(0.2)
        dump()


if __name__ == "__main__":
    import atexit

    import django

    django.setup()
    from django.core.management import call_command
    from django.db.backends.signals import connection_created

    millisecond_log_times()
    if os.environ.get("BENCH_COUNTERS_FILE"):
        connection_created.connect(install)
        atexit.register(dump)
        threading.Thread(target=dump_forever, daemon=True).start()
    # call_command, not execute_from_command_line: that would run django.setup() again, and with it the
    # LOGGING configuration, undoing the millisecond formatter.
    call_command("runscheduler", *sys.argv[1:])
