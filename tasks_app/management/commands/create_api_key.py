"""`manage.py create_api_key --user NAME [--name LABEL] [--expires 90d]`: issues a key and prints it once, as the
last line. Whoever runs manage.py on the server may create a key for any user (as a superuser may)."""
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tasks_app.models import ApiKey
from tasks_app.roles import role_of
from tasks_app.services import apikeys


class Command(BaseCommand):
    help = "Create an API key for a user. The key is printed once, as the last line; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="User name the key acts as (with that user's role)")
        parser.add_argument("--name", default="", help="A label to tell keys apart, e.g. 'backup script'")
        parser.add_argument("--expires", default="",
                            help="Lifetime, e.g. 30m, 12h, 90d or 2w (minutes, hours, days, weeks); "
                                 "by default the key does not expire")

    def handle(self, *args, user, name, expires, **options):
        User = get_user_model()
        try:
            owner = User.objects.get(**{User.USERNAME_FIELD: user})
        except User.DoesNotExist:
            raise CommandError(f"--user {user!r}: no such user") from None
        if len(name) > ApiKey._meta.get_field("name").max_length:
            raise CommandError(f"--name {name!r}: at most 100 characters")
        expires_at = None
        if expires:
            try:
                expires_at = timezone.now() + apikeys.parse_lifetime(expires)
            except ValueError as exc:
                raise CommandError(f"--expires {exc}") from None
        api_key, key = apikeys.issue_key(owner, name=name, expires_at=expires_at, actor=None, via="cli")
        role = role_of(owner)
        until = f", expires {expires_at.isoformat(timespec='seconds')}" if expires_at else ""
        self.stdout.write(f"API key {api_key.prefix}… created for {user} (role: {role or 'none'}{until}).")
        if role is None:
            self.stderr.write(f"Warning: {user} has no role (viewer/operator/admin), so the key is refused everything.")
        self.stdout.write("Store it now; it cannot be shown again:")
        self.stdout.write(key)
