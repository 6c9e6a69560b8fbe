"""`manage.py export_tasks`: the database's tasks in the tasks.json format (default: conf/tasks.json)."""
from django.core.management.base import BaseCommand, CommandError

from tasks_app.conffile import jsonfile
from tasks_app.conffile.backups import tasks_file
from tasks_app.services import import_export

from .import_tasks import cli_actor


class Command(BaseCommand):
    help = ("Write the tasks to conf/tasks.json (or --output FILE, '-' for standard output). With --with-history "
            "and --with-status, task_history.json and task_status.json are written beside it.")

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", default=None, help="File to write; '-' for standard output.")
        parser.add_argument("--with-history", action="store_true", help="Also write task_history.json.")
        parser.add_argument("--with-status", action="store_true", help="Also write task_status.json.")
        parser.add_argument("--omit-secrets", action="store_true",
                            help="Write each secret by its name alone ({\"secret\": true}) instead of sealed "
                                 "({\"encrypted\": ...}, importable again under the same secrets key).")

    def handle(self, *args, output, with_history, with_status, omit_secrets, **options):
        if output == "-":
            document = import_export.export_document(include_history=with_history, include_status=with_status,
                                                     omit_secrets=omit_secrets)
            self.stdout.write(jsonfile.dumps(document), ending="")
            return
        path = output or tasks_file()
        try:
            written = import_export.export_tasks(path, include_history=with_history, include_status=with_status,
                                                omit_secrets=omit_secrets, actor=cli_actor(), via="cli")
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for file in written:
            self.stdout.write(f"Wrote {file}")
