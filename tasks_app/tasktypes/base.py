"""What a task type is: its name, whether it runs a file of the tasks folder (task_exec), the options it takes
(task_options) and their checks, and either the command that runs its file (argv: run by the engine's shepherd
with every confinement of a Python script) or a run it performs itself (perform: inside the engine's worker
thread, for types that run nothing on this machine, such as an HTTP request)."""
from dataclasses import dataclass, field
from typing import Any, BinaryIO

# The kinds of an option: what the form shows and what clean_options() accepts.
TEXT, TEXTAREA, INTEGER, BOOLEAN, CHOICE, TEXT_MAP, INT_LIST = (
    "text", "textarea", "integer", "boolean", "choice", "text_map", "int_list")


class OptionErrors(ValueError):
    """errors: {option name: [messages]}; the loader shows them under task_options, each naming its option."""

    def __init__(self, errors: dict):
        self.errors = errors
        super().__init__("; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items()))


@dataclass(frozen=True)
class Option:
    name: str
    kind: str = TEXT
    label: str = ""
    help: str = ""
    required: bool = False
    default: Any = None
    choices: tuple = ()  # for CHOICE
    max_length: int = 10_000


@dataclass
class RunContext:
    """What a type that performs its run gets: the task's id and options, the run's environment (task_env with
    the run's one-off values, secrets opened), the time it may take, where its output goes (masked as it is
    written), and the stop request it must watch."""

    task_id: str
    execution_id: int
    options: dict
    env: dict
    timeout: float | None  # seconds; None: no limit
    output: BinaryIO
    stop_event: Any = None  # .is_set(): the run was asked to stop
    log: Any = None  # a logger for the task's log

    def stopped(self) -> bool:
        return self.stop_event is not None and self.stop_event.is_set()


@dataclass
class Performed:
    """How a performed run ended: a return code (0 success) and an error message for a failure. `timed_out`
    makes it a timeout, `stopped` a stop."""

    return_code: int
    error: str = ""
    timed_out: bool = False
    stopped: bool = False
    details: dict = field(default_factory=dict)


class TaskType:
    name = ""
    label = ""
    runs_file = True  # task_exec names its file; False: task_exec stays empty
    performs = False  # True: perform() does the run; False: argv() names the command the shepherd runs
    options: tuple = ()

    def clean_options(self, options: dict) -> dict:
        """The options as stored: each known option checked by its kind, defaults filled in; OptionErrors naming
        each option that is wrong (an unknown one included). A type may check more by overriding this and
        calling it first."""
        known = {option.name: option for option in self.options}
        errors, cleaned = {}, {}
        for name in options:
            if name not in known:
                errors.setdefault(name, []).append(f"unknown option {name!r} for task_type {self.name!r} (it takes "
                                                   f"{', '.join(known) or 'no options'})")
        for option in self.options:
            value = options.get(option.name)
            if value is None or value == "" or value == [] or value == {}:
                if option.required:
                    errors.setdefault(option.name, []).append(f"{option.name} is required for task_type "
                                                              f"{self.name!r}")
                elif option.default is not None:
                    cleaned[option.name] = option.default
                continue
            try:
                cleaned[option.name] = check_option(option, value)
            except ValueError as exc:
                errors.setdefault(option.name, []).append(str(exc))
        if errors:
            raise OptionErrors(errors)
        return cleaned

    def check_file(self, path) -> str | None:
        """Why the file task_exec names cannot be run by this type (a sentence), or None. Called when the task is
        saved; the run checks again."""
        return None

    def argv(self, script, options: dict) -> list | None:
        """The command line the run executes (argv[0] found on the run's PATH), or None to run the file as a
        Python script in the shepherd's interpreter (the python type)."""
        raise NotImplementedError

    def perform(self, run: RunContext) -> Performed:
        raise NotImplementedError


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_option(option: Option, value):
    """One option's value by its kind; ValueError naming the option and the value."""
    name = option.name
    if option.kind in (TEXT, TEXTAREA, CHOICE):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text, got {_shown(value)}")
        if "\x00" in value:
            raise ValueError(f"{name} must not contain a NUL character")
        if len(value) > option.max_length:
            raise ValueError(f"{name} is {len(value)} characters long; at most {option.max_length} are allowed")
        if option.kind == CHOICE and value not in option.choices:
            raise ValueError(f"{name} {_shown(value)} is not one of {', '.join(option.choices)}")
        return value
    if option.kind == INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer, got {_shown(value)}")
        return value
    if option.kind == BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {_shown(value)}")
        return value
    if option.kind == TEXT_MAP:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError(f"{name} must be an object of names to text values, got {_shown(value)}")
        return value
    if option.kind == INT_LIST:
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ValueError(f"{name} must be a list of integers, got {_shown(value)}")
        return value
    raise ValueError(f"{name}: unknown option kind {option.kind!r}")
