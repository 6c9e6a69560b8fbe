"""`manage.py restore_tasks --list` / `restore_tasks BACKUP`: bring back an earlier conf/tasks.json."""
from django.core.management.base import BaseCommand, CommandError

from tasks_app.conffile import backups
from tasks_app.definition.loader import TaskFileError
from tasks_app.services.import_export import restore_backup

from .import_tasks import cli_actor, write_problems, write_result


class Command(BaseCommand):
    help = ("List the backups of conf/tasks.json (--list), or restore one: the current file is backed up "
            "first, then the database's tasks are replaced by the backup's.")

    def add_arguments(self, parser):
        parser.add_argument("backup", nargs="?", help="A name shown by --list.")
        parser.add_argument("--list", dest="list_only", action="store_true", help="List the backups, newest first.")

    def handle(self, *args, backup, list_only, **options):
        if list_only or not backup:
            if not list_only:
                raise CommandError("Name a backup to restore, or use --list to see them.")
            self.list_backups()
            return
        try:
            result = restore_backup(backup, actor=cli_actor(), via="restore")
        except backups.BackupNotFound as exc:
            raise CommandError(str(exc)) from None
        except TaskFileError as exc:
            write_problems(self.stderr, exc.problems)
            raise CommandError(f"{backup}: {len(exc.problems)} problem(s); nothing was changed.") from None
        write_result(self.stdout, result)
        self.stdout.write(f"Restored {backup}")

    def list_backups(self):
        found = backups.list_backups()
        if not found:
            self.stdout.write("No backups yet.")
            return
        for b in found:
            count = "?" if b.task_count is None else b.task_count
            self.stdout.write(f"{b.name}  {b.time:%Y-%m-%d %H:%M:%S} UTC  {b.size} bytes  {count} task(s)")
