"""`manage.py import_tasks FILE [--replace] [--dry-run]`: all-or-nothing import of a tasks.json file."""
import getpass

from django.core.management.base import BaseCommand, CommandError

from tasks_app.definition.loader import TaskFileError
from tasks_app.services import import_export


def cli_actor():
    """The operating-system user running the command: who made the change, for the log."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER variable and no passwd entry (e.g. some containers)
        return "cli"


def write_problems(stream, problems):
    for task_id, field, message in problems:
        stream.write(f"{task_id or '-'}: {field}: {message}")


def write_result(stdout, result):
    for label, ids in (("created", result.created), ("updated", result.updated),
                       ("deleted", result.deleted), ("unchanged", result.unchanged)):
        for task_id in ids:
            stdout.write(f"{label}: {task_id}")
    for label, names in (("created", result.calendars_created), ("updated", result.calendars_updated)):
        for name in names:
            stdout.write(f"calendar {label}: {name}")
    prefix = "Dry run, nothing changed; would be: " if result.dry_run else ""
    stdout.write(prefix + result.summary())


class Command(BaseCommand):
    help = ("Import tasks from FILE ({\"tasks\": [...]}). All or nothing: on any problem every problem is listed "
            "as 'task_id: field: message' and nothing changes.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--replace", action="store_true",
                            help="Delete the tasks that are not in FILE (with their history).")
        parser.add_argument("--dry-run", action="store_true", help="Show what would change; change nothing.")

    def handle(self, *args, file, replace, dry_run, **options):
        try:
            result = import_export.import_tasks(file, replace=replace, dry_run=dry_run,
                                               actor=cli_actor(), via="import")
        except TaskFileError as exc:
            write_problems(self.stderr, exc.problems)
            raise CommandError(f"{file}: {len(exc.problems)} problem(s); nothing was changed.") from None
        write_result(self.stdout, result)
