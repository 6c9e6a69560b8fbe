"""`manage.py runworker`: a Celery worker of the product (SCHEDULER_EXECUTOR=celery), the same as
`celery -A scheduler_site worker -Q <queues> -c <n> --hostname <name>`, in this process. It only turns its
options into Celery's; scheduler_site/celery.py and tasks_app/engine/workers/ do the work."""
import re

from django.core.management.base import BaseCommand, CommandError

QUEUES = re.compile(r"^[A-Za-z0-9._-]{1,64}(,[A-Za-z0-9._-]{1,64})*$")


class Command(BaseCommand):
    help = ("Run a Celery worker that runs the executions sent to its queues, until SIGTERM (its runs get "
            "SCHEDULER_STOP_GRACE seconds to finish, then are stopped).")

    def add_arguments(self, parser):
        parser.add_argument("-Q", "--queues", default="default",
                            help="Comma-separated queues (task_queue values) to serve (default: default).")
        parser.add_argument("-c", "--concurrency", type=int, default=None,
                            help="Runs at once (default: the number of CPUs).")
        parser.add_argument("-n", "--hostname", default=None,
                            help="The worker's name, e.g. w1@%%h (default: celery@<machine>); unique per worker.")
        parser.add_argument("-l", "--loglevel", default="INFO", help="Celery's own log level (default: INFO).")

    def handle(self, *args, queues, concurrency, hostname, loglevel, **options):
        if not QUEUES.match(queues):
            raise CommandError(f"--queues {queues!r}: give queue names (letters, digits, '-', '_' or '.') "
                               "separated by commas, such as default,reports")
        if concurrency is not None and not 1 <= concurrency <= 1000:
            raise CommandError(f"--concurrency {concurrency}: must be between 1 and 1000")
        from scheduler_site.celery import app

        argv = ["worker", "-Q", queues, "-l", loglevel]
        if concurrency is not None:
            argv += ["-c", str(concurrency)]
        if hostname:
            argv += ["--hostname", hostname]
        app.worker_main(argv)
