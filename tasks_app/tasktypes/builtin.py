"""The built-in types that run a file of the tasks folder: python (today's behaviour: the script runs in the
shepherd's interpreter) and shell (an executable file run by its shebang). Both run through the shepherd, with
the same confinement, clean environment, run-as user and limits."""
import os

from django.utils.translation import gettext_lazy as _

from .base import TaskType


class PythonType(TaskType):
    name = "python"
    label = _("Python script")

    def argv(self, script, options):
        return None  # the shepherd's interpreter runs it, as `python script.py` would


class ShellType(TaskType):
    name = "shell"
    label = _("Executable file (shell script, run by its #! line)")

    def check_file(self, path):
        try:
            with open(path, "rb") as f:
                first = f.read(2)
        except OSError as exc:
            return f"cannot be read ({exc.strerror})"
        if first != b"#!" and not _is_elf(path):
            return "has no #! line naming its interpreter (such as #!/bin/sh)"
        if not os.access(path, os.X_OK):
            return "is not executable (chmod +x it)"
        return None

    def argv(self, script, options):
        return [str(script)]  # executed as is: the kernel reads its #! line


def _is_elf(path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False
