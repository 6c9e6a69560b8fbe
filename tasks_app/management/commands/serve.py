"""`manage.py serve`: the web server and the scheduler together in the foreground (what `make run` starts).

The web pages are served by several waitress processes, one per core by default (`--workers`), sharing one
listening socket that this command opens: one Python process is one core under the GIL. The scheduler runs in
a process of its own, as django-apscheduler asks (never a scheduler inside a web worker).
Ctrl-C or SIGTERM stops them all; if any one dies, the others are stopped too.
"""
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from tasks_app.private_files import fix_private_files

log = logging.getLogger("SchedulerEngine")


def default_workers() -> int:
    return len(os.sched_getaffinity(0))


class Command(BaseCommand):
    help = "Run the web server (waitress, a process per core) and the scheduler together until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=default_workers(),
                            help="web processes (default: one per core this process may run on)")
        # 4, not more: under load the thread that holds SQLite's one write lock needs the GIL back after each
        # statement, and every thread more in its process made it wait longer while all other writers queued
        # (bench/web_load.py: edits' median 365 ms with 8 threads, 186 ms with 4). Requests beyond the threads
        # wait in waitress's queue, holding nothing.
        parser.add_argument("--threads", type=int, default=4, help="threads of each web process")
        parser.add_argument("--no-scheduler", action="store_true", help="Start the web server only.")

    def handle(self, *args, host, port, workers, threads, no_scheduler, **options):
        fix_private_files()  # before the web server reads anything (runscheduler does it again: nothing left)
        listening = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                                         backlog=1024)
        web = [sys.executable, "-m", "scheduler_site.webworker", f"--fd={listening.fileno()}",
               f"--threads={threads}",
               # The product's body cap, enforced before a body is buffered (chunked ones too).
               f"--max-request-body-size={settings.REQUEST_MAX_BODY_BYTES}"]
        if settings.HTTPS or settings.DJANGO_PROXY_COUNT:
            # Behind a proxy: pass X-Forwarded-Proto / -For on; Django decides what to trust (settings.py).
            web.append("--trust-proxy-headers")
        web_env, cache_dir = self.shared_cache_env(workers)
        manage = str(settings.BASE_DIR / "manage.py")
        children = {f"web {n + 1}": subprocess.Popen(web, cwd=settings.BASE_DIR, env=web_env,
                                                     pass_fds=[listening.fileno()]) for n in range(max(1, workers))}
        if not no_scheduler:
            children["scheduler"] = subprocess.Popen([sys.executable, manage, "runscheduler"], cwd=settings.BASE_DIR)
        listening.close()  # the web processes hold it now
        self.stdout.write(f"Web pages on http://{host}:{port}/ (admin at /admin/), {len(children) - (not no_scheduler)}"
                          f" web process(es). Ctrl-C stops everything.")
        try:
            sys.exit(self.supervise(children))
        finally:
            if cache_dir:
                shutil.rmtree(cache_dir, ignore_errors=True)

    def shared_cache_env(self, workers):
        """The web processes' environment. Throttle counts and the dashboard's hours live in Django's cache;
        the default local-memory cache belongs to one process, so with several of them (and no cache chosen by
        DJANGO_CACHE_BACKEND) they share a file-based cache in a private folder that lasts as long as `serve`."""
        env = dict(os.environ)
        if workers <= 1 or os.environ.get("DJANGO_CACHE_BACKEND"):
            return env, None
        cache_dir = tempfile.mkdtemp(prefix="scheduler-web-cache-")  # mode 0700
        env.update(DJANGO_CACHE_BACKEND="django.core.cache.backends.filebased.FileBasedCache",
                   DJANGO_CACHE_LOCATION=cache_dir)
        return env, cache_dir

    def supervise(self, children) -> int:
        stopping = False

        def request_stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        exit_code = 0
        while not stopping:
            dead = [name for name, proc in children.items() if proc.poll() is not None]
            if dead:
                exit_code = children[dead[0]].returncode or 1
                log.error("%s process exited with code %s; stopping the rest", dead[0], children[dead[0]].returncode)
                break
            time.sleep(0.2)
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + settings.SCHEDULER_STOP_GRACE + 5
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return exit_code
