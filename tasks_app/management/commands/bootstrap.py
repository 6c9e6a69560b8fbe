"""`manage.py bootstrap` (run by `make run` after migrate): on first start, import conf/tasks.json into an empty
database and create an administrator with a random password. Running it again changes nothing."""
import logging
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tasks_app.conffile.backups import tasks_file
from tasks_app.definition.loader import TaskFileError
from tasks_app.models import Task
from tasks_app.private_files import fix_private_files
from tasks_app.roles import ADMIN
from tasks_app.services.import_export import import_tasks

log = logging.getLogger("SchedulerEngine")
ADMIN_USERNAME = "admin"


def default_password_file() -> Path:
    return Path(settings.BASE_DIR) / ".admin_password"


class Command(BaseCommand):
    help = ("First start: import conf/tasks.json if the database has no tasks, and create the user 'admin' with a "
            "random password (printed once and kept in .admin_password, mode 0600) if there is no superuser.")

    def add_arguments(self, parser):
        parser.add_argument("--password-file", type=Path, default=None,
                            help="Where to keep the new administrator's password (default: .admin_password in the "
                                 "project root)")

    def handle(self, *args, password_file=None, **options):
        fix_private_files()  # `make run` runs it right after migrate: an old install's files are closed first
        self.import_tasks()
        self.create_admin(password_file or default_password_file())

    def import_tasks(self):
        path = tasks_file()
        count = Task.objects.count()
        if count:
            log.info("Bootstrap: the database holds %d task(s); %s is not imported", count, path.name)
            return
        if not path.exists():
            log.info("Bootstrap: no tasks in the database and no %s to import", path)
            return
        try:
            result = import_tasks(path, actor="bootstrap", via="import")
        except TaskFileError as exc:
            for task_id, field, message in exc.problems:
                self.stderr.write(f"  {task_id or '-'}: {field}: {message}")
            log.error("Bootstrap: %s was not imported (%d problem(s)); nothing changed", path, len(exc.problems))
            raise CommandError(f"{path} was not imported: {len(exc.problems)} problem(s), listed above. Fix the "
                               "file (or move it away to start empty) and run again.") from None
        created = len(result.created)
        log.info("Bootstrap: imported %d task(s) from %s into the empty database", created, path)
        self.stdout.write(f"Imported {created} task(s) from {path}.")

    def create_admin(self, path: Path):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            log.info("Bootstrap: an administrator exists; none created")
            return
        if User.objects.filter(**{User.USERNAME_FIELD: ADMIN_USERNAME}).exists():
            # Never take over an existing account by resetting its password.
            log.warning("Bootstrap: no superuser, but a user named %r exists; create one with createsuperuser",
                        ADMIN_USERNAME)
            self.stderr.write(f"No administrator created: a user named {ADMIN_USERNAME!r} exists already. "
                              "Run `python manage.py createsuperuser`.")
            return
        password = secrets.token_urlsafe(18)
        with transaction.atomic():
            user = User.objects.create_superuser(ADMIN_USERNAME, email="", password=password)
            group = Group.objects.filter(name=ADMIN).first()
            if group:
                user.groups.add(group)
            # Written inside the transaction: if the file cannot be written, no account with an unknown
            # password is left behind.
            _write_private(path, password + "\n")
        log.info("Bootstrap: created the administrator %r; its password is in %s (mode 0600)", ADMIN_USERNAME, path)
        self.stdout.write(f"Created the administrator {ADMIN_USERNAME!r} with the password:\n\n    {password}\n\n"
                          f"It is shown only this once and kept in {path} (readable only by you). "
                          "Change it after logging in at /admin/.")


def _write_private(path: Path, text: str):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a file left from an earlier install may have had wider rights
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
