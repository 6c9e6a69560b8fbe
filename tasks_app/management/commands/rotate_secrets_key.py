"""`manage.py rotate_secrets_key [--retire | --generate]`: a new secrets key, every stored secret sealed anew
under it, and the older keys retired once nothing needs them (see the README: Secrets)."""
from django.core.management.base import BaseCommand

from tasks_app.secrets import keys
from tasks_app.services import rotation

from .import_tasks import cli_actor


class Command(BaseCommand):
    help = ("With the key file: add a new key, seal every stored secret (database, conf/tasks.json, backups) anew "
            "under it, and keep the old key readable until --retire. With SCHEDULER_SECRETS_KEY: seal everything "
            "under its first key (after you put a new key first), or say what to set.")

    def add_arguments(self, parser):
        parser.add_argument("--retire", action="store_true",
                            help="Seal everything under the newest key, then drop the older keys.")
        parser.add_argument("--generate", action="store_true", help="Print a new key and change nothing.")

    def handle(self, *args, retire, generate, **options):
        if generate:
            self.stdout.write(keys.generate_key())
            return
        if retire:
            self.retire()
            return
        if keys.source() == keys.FILE:
            old = keys.current_keys()
            keys.write_key_file([keys.generate_key()] + old)
            self.reseal()
            self.stdout.write(f"A new key was added to {keys.key_file()}; the {len(old)} older one(s) still open what "
                              "was sealed under them. Copy the key file to your backup of it now, then run "
                              "`manage.py rotate_secrets_key --retire` to drop the older keys.")
            return
        current = keys.current_keys()
        if len(current) == 1:
            new = keys.generate_key()
            self.stdout.write(
                "SCHEDULER_SECRETS_KEY holds one key, so nothing was changed. To rotate:\n"
                f"  1. set SCHEDULER_SECRETS_KEY={new},<the current key> for every process of the scheduler "
                "(web server, scheduler, commands) and restart them: the new key seals, both open;\n"
                "  2. run `manage.py rotate_secrets_key` again: every stored secret is sealed under the new key;\n"
                "  3. run `manage.py rotate_secrets_key --retire`, then set SCHEDULER_SECRETS_KEY to the new key "
                "alone and restart.\n"
                "Keep a copy of the new key apart from the database and conf/: without it the secrets are lost.")
            return
        self.reseal()
        self.stdout.write(f"Everything is sealed under the first of the {len(current)} keys of SCHEDULER_SECRETS_KEY. "
                          "Run `manage.py rotate_secrets_key --retire` to check that nothing needs the others.")

    def reseal(self):
        report = rotation.reseal_everything(actor=cli_actor(), via="cli")
        self.stdout.write(f"Sealed {report.secrets} secret(s) anew in {', '.join(report.places) or 'nothing'}.")
        for where, count in report.lost.items():
            self.stderr.write(f"{where}: {count} secret(s) no key opens (sealed under a key that is gone); left "
                              "as they are.")

    def retire(self):
        current = keys.current_keys()
        self.reseal()
        remaining = rotation.still_needing_older_keys()
        if remaining:
            # Everything was just sealed anew: what the newest key does not open, no key opens (already lost).
            self.stderr.write("These hold secrets no key opens; retiring changes nothing for them: "
                              + ", ".join(sorted(remaining)))
        if len(current) == 1:
            self.stdout.write("There is one key only: nothing to retire.")
            return
        if keys.source() == keys.FILE:
            keys.write_key_file(current[:1])
            self.stdout.write(f"Retired {len(current) - 1} older key(s) from {keys.key_file()}; the newest alone "
                              "opens every secret. Update your backup of the key file.")
            return
        self.stdout.write(f"Every secret opens with the first key of SCHEDULER_SECRETS_KEY. Now set "
                          f"SCHEDULER_SECRETS_KEY to that key alone (drop the other {len(current) - 1}) for every "
                          "process of the scheduler, and restart them.")
