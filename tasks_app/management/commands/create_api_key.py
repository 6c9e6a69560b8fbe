"""`manage.py create_api_key --user NAME [--name LABEL]`: issues a key and prints it once, as the last line."""
import logging

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tasks_app.models import ApiKey
from tasks_app.roles import role_of

logger = logging.getLogger("APIInterface")


class Command(BaseCommand):
    help = "Create an API key for a user. The key is printed once, as the last line; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="User name the key acts as (with that user's role)")
        parser.add_argument("--name", default="", help="A label to tell keys apart, e.g. 'backup script'")

    def handle(self, *args, user, name, **options):
        User = get_user_model()
        try:
            owner = User.objects.get(**{User.USERNAME_FIELD: user})
        except User.DoesNotExist:
            raise CommandError(f"--user {user!r}: no such user") from None
        if len(name) > ApiKey._meta.get_field("name").max_length:
            raise CommandError(f"--name {name!r}: at most 100 characters")
        api_key, key = ApiKey.issue(owner, name=name)
        logger.info("API key %s… (%s) created for user %s from the command line", api_key.prefix, name, user)
        role = role_of(owner)
        self.stdout.write(f"API key {api_key.prefix}… created for {user} (role: {role or 'none'}).")
        if role is None:
            self.stderr.write(f"Warning: {user} has no role (viewer/operator/admin), so the key is refused everything.")
        self.stdout.write("Store it now; it cannot be shown again:")
        self.stdout.write(key)
