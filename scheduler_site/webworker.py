"""One of the web processes `manage.py serve` starts: waitress on the listening socket that `serve` opened and
handed down by its file descriptor. Several such processes share the one port (the kernel gives each new
connection to whichever process accepts first), so the web pages use every core: one Python process is one core
under the GIL. Run only by `serve`; the scheduler is never started here (scheduler_site/wsgi.py starts the
watchdog only, which is safe in any number of web processes)."""
import argparse
import signal
import socket
import sys

from waitress import serve

SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fd", type=int, required=True, help="the listening socket's file descriptor")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--max-request-body-size", type=int, required=True)
    parser.add_argument("--trust-proxy-headers", action="store_true",
                        help="pass X-Forwarded-* on (behind a proxy); Django decides what to trust")
    args = parser.parse_args(argv)
    listening = socket.socket(fileno=args.fd)
    from django.db import connections

    from scheduler_site.wsgi import application  # after the arguments: --help needs no Django

    # Each of waitress's threads keeps its database connection from one request to the next: opening one (and,
    # on SQLite, its PRAGMAs and functions) cost a quarter of a simple API read. Checked before reuse, so a
    # connection a database restart broke is opened anew instead of failing a request.
    for alias in connections:
        connections[alias].settings_dict.update(CONN_MAX_AGE=None, CONN_HEALTH_CHECKS=True)

    # A thread holding SQLite's one write lock gives the GIL up at every statement and, with the other threads
    # busy, waited a whole switch interval (5 ms) to get it back each time: the lock stayed taken for tens of
    # milliseconds per edit while every other writer queued. A shorter interval hands the GIL back sooner.
    sys.setswitchinterval(SWITCH_INTERVAL)
    from scheduler_site.sqlite3.base import queue_writers

    queue_writers()  # on SQLite, this process's writers take turns before asking for the database's write lock
    from tasks_app.conffile import background

    background.start()  # conf/tasks.json is written by a thread: requests do not wait for it
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        serve(application, sockets=[listening], threads=args.threads,
              max_request_body_size=args.max_request_body_size,
              clear_untrusted_proxy_headers=not args.trust_proxy_headers)
    finally:
        background.stop()  # what is pending is written before the process exits


def _stop(signum, frame):
    # Ctrl-C reaches this process and `serve`, which then sends SIGTERM too: a second signal must not cut the
    # last write of conf/tasks.json short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(0)  # to the finally of main()


if __name__ == "__main__":
    main()
