"""An example task type plugin for the task scheduler, registered by dotted paths in TASK_TYPES:

- BashType builds the command that runs its file (argv); the engine's shepherd runs it, confined.
- EchoType performs its run itself (perform), writing one message to the run's output."""
import string

from tasks_app.tasktypes.base import BOOLEAN, TEXT, TEXTAREA, Option, OptionErrors, Performed, TaskType


class BashType(TaskType):
    name = "bash"  # what task_type holds
    label = "Bash script (bash -eu file args...)"
    runs_file = True  # task_exec names a file inside the tasks folder: required, checked at save and run
    options = (
        Option("args", TEXT, "Arguments", default="", help="Separated by spaces, e.g. --full --verbose"),
        Option("strict", BOOLEAN, "Stop at the first error (-eu)", default=True),
    )

    def clean_options(self, options):
        cleaned = super().clean_options(options)  # each option checked by its kind, defaults filled in
        if any(arg.startswith("-c") for arg in cleaned.get("args", "").split()):
            raise OptionErrors({"args": ["args must not start with -c: the file is the script"]})
        return cleaned

    def argv(self, script, options):
        flags = ["-eu"] if options.get("strict", True) else []
        return ["bash", *flags, str(script), *options.get("args", "").split()]


class EchoType(TaskType):
    name = "echo"
    label = "Echo a message"
    runs_file = False  # no task_exec
    performs = True
    options = (Option("message", TEXTAREA, "Message", required=True,
                      help="${NAME} is the run's environment variable NAME"),)

    def perform(self, run):
        text = string.Template(run.options["message"]).safe_substitute(run.env)
        run.output.write((text + "\n").encode("utf-8"))  # masked on the way: a secret never reaches the file
        if run.stopped():
            return Performed(1, stopped=True)
        return Performed(0)
