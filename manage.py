#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_site.settings")
    from tasks_app.private_files import use_private_umask

    use_private_umask()  # before settings create .secret_key, the database or a log
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
