"""`manage.py serve`: the web server and the scheduler together in the foreground (what `make run` starts).

Each runs in its own process, as django-apscheduler asks (never a scheduler inside a web worker).
Ctrl-C or SIGTERM stops both; if either one dies, the other is stopped too.
"""
import logging
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from tasks_app.private_files import fix_private_files

log = logging.getLogger("SchedulerEngine")


class Command(BaseCommand):
    help = "Run the web server (waitress) and the scheduler together until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-scheduler", action="store_true", help="Start the web server only.")

    def handle(self, *args, host, port, threads, no_scheduler, **options):
        fix_private_files()  # before the web server reads anything (runscheduler does it again: nothing left)
        manage = str(settings.BASE_DIR / "manage.py")
        web = [sys.executable, "-m", "waitress", f"--host={host}", f"--port={port}", f"--threads={threads}",
               # The product's body cap, enforced before a body is buffered (chunked ones too).
               f"--max-request-body-size={settings.REQUEST_MAX_BODY_BYTES}"]
        if settings.HTTPS or settings.DJANGO_PROXY_COUNT:
            # Behind a proxy: pass X-Forwarded-Proto / -For on; Django decides what to trust (settings.py).
            web.append("--no-clear-untrusted-proxy-headers")
        commands = {"web": web + ["scheduler_site.wsgi:application"]}
        if not no_scheduler:
            commands["scheduler"] = [sys.executable, manage, "runscheduler"]
        children = {name: subprocess.Popen(cmd, cwd=settings.BASE_DIR) for name, cmd in commands.items()}
        self.stdout.write(f"Web pages on http://{host}:{port}/ (admin at /admin/). Ctrl-C stops everything.")

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
        sys.exit(exit_code)
