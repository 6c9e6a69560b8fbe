"""`manage.py runscheduler`: the scheduler process. One leads per database; another one started on the same
database (this machine or another) waits as a standby and takes over when the leader stops or dies
(`--no-standby`: exit instead). It only reads its options; tasks_app.engine.scheduler.SchedulerEngine does the
work. SIGTERM / SIGINT stop it gracefully (exit 0), a standby too."""
import logging
import signal

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from tasks_app.engine.celery_executor import CeleryConfigurationError
from tasks_app.engine.confinement import ConfinementError, prepare_engine_process
from tasks_app.engine.lock import LeaseLost, LockHeld
from tasks_app.engine.scheduler import SchedulerEngine
from tasks_app.private_files import fix_private_files


class Command(BaseCommand):
    help = "Run the task scheduler in the foreground until SIGTERM or Ctrl-C (a standby if another one leads)."

    def add_arguments(self, parser):
        parser.add_argument("--no-standby", action="store_true",
                            help="If another scheduler leads on this database, exit (code 1) instead of waiting "
                                 "as a standby.")
        parser.add_argument("--wait", action="store_true",
                            help="Wait as a standby if another scheduler leads (the default; kept for old scripts).")
        parser.add_argument("--max-seconds", type=float, default=None,
                            help="Stop by itself after this many seconds (tests, benchmarks).")
        parser.add_argument("--tick", type=float, default=None,
                            help="Seconds between polls for changes, run-now requests and stops (default 0.5).")

    def handle(self, *args, no_standby, wait, max_seconds, tick, **options):
        if tick is not None and not 0.05 <= tick <= 10:
            raise CommandError(f"--tick {tick}: must be between 0.05 and 10 seconds")
        if max_seconds is not None and max_seconds <= 0:
            raise CommandError(f"--max-seconds {max_seconds}: must be positive")
        if no_standby and wait:
            raise CommandError("--wait and --no-standby: choose one")
        fix_private_files()  # an older version may have left the engine's files readable by others
        # The engine writes a few log lines per run, whose format names neither the process nor the source line: a
        # record need not look them up (the logging HOWTO's "Optimization"). Threads stay: alerts/apprise_send.py
        # tells records apart by thread.
        logging.logProcesses = logging.logMultiprocessing = False
        logging._srcfile = None
        # One long-lived connection: the loop calls close_old_connections() before its database work,
        # which then only drops a connection that is broken (CONN_MAX_AGE 0 would reconnect every tick).
        for alias in connections:
            connections[alias].settings_dict["CONN_MAX_AGE"] = None
        try:
            prepare_engine_process()
        except ConfinementError as exc:
            raise CommandError(str(exc)) from None
        standby = not no_standby
        try:
            engine = SchedulerEngine(wait_for_lock=standby, tick=tick)
        except CeleryConfigurationError as exc:
            raise CommandError(str(exc)) from None

        def stop(signum, frame):
            engine.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            engine.start()
        except LockHeld as held:
            if standby:  # stopped by a signal while standing by
                return
            raise CommandError(f"{held}. Stop it first, or start this one without --no-standby to wait as a "
                               f"standby.") from None
        except LeaseLost as exc:
            raise CommandError(str(exc)) from None
        code = engine.run(max_seconds=max_seconds)
        if code:
            raise CommandError("the scheduler stopped because another scheduler took its lease", returncode=code)
