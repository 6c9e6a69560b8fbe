"""Every field of a task, declared once (the product's TaskConfig). The loader's defaults and limits, the API's
serializer, the task form, the admin, the conf/tasks.json rendering and task_to_dict are derived from this table;
the model declares the column and a migration creates it. To add a field: an entry here (in file order), the
model field, its migration, the words of its label and help in the translation file, and a line on the task page.
"""
import copy
from dataclasses import dataclass
from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

TASK_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
TASK_ID_MAX_LENGTH = 64
task_id_validator = RegexValidator(TASK_ID_PATTERN, _("Use 1 to 64 letters, digits, '-' or '_'."),
                                   code="invalid_task_id")
QUEUE_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"  # a task_queue: a Celery queue name that needs no quoting anywhere
# A tag of task_tags: a short lowercase word, so that '"tag"' found in the stored JSON is exactly one tag (the
# tag filter on SQLite, which has no JSON containment) and a tag needs no quoting in a URL.
TAG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
MAX_TAGS = 20
DB_INT_MAX = 2**31 - 1  # PositiveIntegerField on PostgreSQL; a larger value must be a 400, not a 500
DEFAULT_LOG_PATTERN = "logs/task_{task_id}.log"


def default_log_path(task_id) -> str:
    """The log file of a task whose task_log is empty, as written in conf/tasks.json."""
    return DEFAULT_LOG_PATTERN.format(task_id=task_id)


class OverlapPolicy(models.TextChoices):
    SKIP = "skip", _("Skip the new run")
    QUEUE = "queue", _("Queue it after the current run")
    REPLACE = "replace", _("Stop the current run, start the new one")
    ALLOW = "allow", _("Run both at once")


# What a field's values are; the serializer, the form and the loader's plain checks follow the kind.
ID = "id"  # a task id (TASK_ID_PATTERN)
TEXT = "text"
INTEGER = "integer"
BOOLEAN = "boolean"
CHOICE = "choice"
ID_LIST = "id_list"  # a list of task ids
WORD_LIST = "word_list"  # a list of short words (TAG_PATTERN): task_tags
TEXT_MAP = "text_map"  # an object of names to text values
OBJECT = "object"  # a JSON object with keys of its own (the loader's rule for the field knows them)

REQUIRED = object()  # the default of a field every task must give
# When conf/tasks.json holds the field: always, or only when it differs from its default (the additions to the
# original thirteen fields, so a file written by hand round-trips unchanged). Every field is in the file: one
# kept out of it (a secret) would also need import to keep the stored value instead of the default.
ALWAYS, UNLESS_DEFAULT = "always", "unless_default"


@dataclass(frozen=True)
class TaskField:
    name: str
    kind: str
    label: Any  # the form's and the admin's label (translated)
    default: Any = REQUIRED
    help: Any = ""  # what the field means (translated): shown by the form, the admin and the API's schema
    max_length: int | None = None  # characters of a TEXT value
    max_items: int | None = None  # entries of a TEXT_MAP
    max_value_bytes: int | None = None  # UTF-8 bytes of each value of a TEXT_MAP (a secret's plain text)
    limits: tuple[int, int] | None = None  # (minimum, maximum) of an INTEGER
    nullable: bool = False  # None is a value of its own (task_timeout: no limit)
    choices: Any = None  # a TextChoices class for a CHOICE
    secret: bool = False  # its values are never logged (only the names of what changed); may hold sealed secrets
    in_file: str = ALWAYS
    admin_section: str = "run"  # the admin's part of the page: "task", "run" or "links"

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def fresh_default(self):
        """The default, as a new object (a dict or list default is never shared between tasks)."""
        return copy.deepcopy(self.default)


FIELDS = (
    TaskField("task_id", ID, _("Task ID"), admin_section="task", help=_("Letters, digits, '-' or '_'; cannot be changed later.")),
    TaskField("task_name", TEXT, _("Name"), max_length=200, admin_section="task"),
    TaskField("task_desc", TEXT, _("Description"), default="", max_length=10_000, admin_section="task"),
    # Required for the types that run a file (python, shell): the loader's type rule (typerules.py) says so.
    TaskField("task_exec", TEXT, _("Script"), default="", max_length=500, admin_section="task",
              help=_("Path of the script inside the tasks folder; empty for a type that runs no file (http)")),
    TaskField("task_schedule", TEXT, _("Schedule (cron)"), default="", max_length=200, admin_section="task",
              help=_("Five fields: minute hour day-of-month month day-of-week. Empty only for a task that runs "
                     "after its dependencies.")),
    TaskField("task_timeout", INTEGER, _("Timeout (seconds)"), default=None, nullable=True, limits=(1, DB_INT_MAX),
              help=_("Empty for no limit.")),
    TaskField("task_retry", INTEGER, _("Retries"), default=0, limits=(0, 100)),
    TaskField("task_retry_interval", INTEGER, _("Seconds between retries"), default=60, limits=(0, DB_INT_MAX)),
    TaskField("task_enabled", BOOLEAN, _("Enabled"), default=True, admin_section="task"),
    TaskField("task_log", TEXT, _("Log file"), default="", max_length=500,
              help=format_lazy(_("Default: {path}"), path=DEFAULT_LOG_PATTERN)),
    TaskField("task_env", TEXT_MAP, _("Parameters (environment variables)"), default={}, secret=True,
              max_items=200, max_value_bytes=32 * 1024, admin_section="links",
              help=_('JSON object of names to text values, e.g. {"PARAM1": "value"}; a secret value as '
                     '{"DB_PASSWORD": {"secret": "value"}}: stored encrypted, never shown again.')),
    TaskField("task_dependencies", ID_LIST, _("Runs after"), default=[], admin_section="links",
              help=_('JSON list of task ids, e.g. ["backup"].')),
    TaskField("task_notify", OBJECT, _("Notifications"), default={}, secret=True, admin_section="links",
              help=_('JSON, e.g. {"on_failure": true, "email": "ops@example.com", "webhook": ""}.')),
    TaskField("task_timezone", TEXT, _("Time zone"), default="", max_length=64, in_file=UNLESS_DEFAULT,
              help=_("IANA zone such as Asia/Shanghai; empty for the server's zone.")),
    TaskField("task_overlap", CHOICE, _("If the previous run is still running"), default=OverlapPolicy.SKIP.value,
              choices=OverlapPolicy, in_file=UNLESS_DEFAULT),
    TaskField("task_misfire_grace", INTEGER, _("Misfire grace (seconds)"), default=60, limits=(0, DB_INT_MAX),
              in_file=UNLESS_DEFAULT,
              help=_("A run missed while the scheduler was down still starts if it is at most this late.")),
    TaskField("task_run_as", TEXT, _("Run as user"), default="", max_length=65, in_file=UNLESS_DEFAULT,
              help=_("A user the administrator allows (SCHEDULER_RUN_AS_ALLOWED); empty for the default user.")),
    TaskField("task_limits", OBJECT, _("Resource limits"), default={}, in_file=UNLESS_DEFAULT,
              help=_('JSON, e.g. {"memory": "512M", "cpu": 600, "processes": 64, "file_size": "1G", '
                     '"open_files": 256}; empty for the defaults.')),
    TaskField("task_queue", TEXT, _("Queue"), default="default", max_length=64, in_file=UNLESS_DEFAULT,
              help=_("The Celery queue its runs are sent to: the workers serving it run them (letters, digits, "
                     "'-', '_' or '.'). Used only with SCHEDULER_EXECUTOR=celery.")),
    TaskField("task_channels", ID_LIST, _("Alert channels"), default=[], in_file=UNLESS_DEFAULT,
              admin_section="links",
              help=_('JSON list of channel names, e.g. ["ops-dingtalk"]; empty: the default channels.')),
    TaskField("task_alerts", OBJECT, _("Alert rules"), default={}, in_file=UNLESS_DEFAULT, admin_section="links",
              help=_('JSON, e.g. {"failures_in_row": 3, "on_recovery": true, "quiet_period": 3600}; empty: the '
                     'defaults (TASK_ALERTS).')),
    TaskField("task_expected_duration", INTEGER, _("Expected duration (seconds)"), default=None, nullable=True,
              limits=(1, DB_INT_MAX), in_file=UNLESS_DEFAULT,
              help=_("A run still going after this long raises an overrun alert; empty: three times the median of "
                     "its last 20 successful runs, once it has 5.")),
    TaskField("task_calendar", TEXT, _("Calendar"), default="", max_length=64, in_file=UNLESS_DEFAULT,
              help=_("A business calendar (/calendars) such as cn-workdays: a slot on a day it excludes is recorded "
                     "skipped instead of running. Empty: every day.")),
    TaskField("task_allow_overrides", BOOLEAN, _("Allow parameters at run time"), default=False,
              in_file=UNLESS_DEFAULT, admin_section="links",
              help=_("Run now, the API and trigger URLs may then give one-off values of its environment variables "
                     "(the names task_env may set).")),
    TaskField("task_type", TEXT, _("Type"), default="python", max_length=64, in_file=UNLESS_DEFAULT,
              admin_section="task",
              help=_("python (a Python script), shell (an executable file run by its #! line), http (one HTTP "
                     "request), or a type a plugin adds (TASK_TYPES).")),
    TaskField("task_options", OBJECT, _("Type options"), default={}, in_file=UNLESS_DEFAULT, admin_section="task",
              help=_('JSON object of the type\'s own fields, e.g. for http {"url": "https://example.com/ping", '
                     '"method": "POST"}.')),
    TaskField("task_tags", WORD_LIST, _("Tags"), default=[], in_file=UNLESS_DEFAULT, admin_section="task",
              help=_('Short words that group tasks, e.g. ["nightly", "billing"]: lowercase letters, digits, \'-\' '
                     'or \'_\', at most 32 characters each and 20 tags. The list, the dashboard, the pause switch '
                     'and bulk actions select tasks by tag.')),
    TaskField("task_fast_start", BOOLEAN, _("Fast start"), default=None, nullable=True, in_file=UNLESS_DEFAULT,
              help=_("Start its runs through the fork server (a pre-started interpreter) instead of a new one: "
                     "empty for the default (SCHEDULER_FAST_START), true or false for this task.")),
)
FIELD = {field.name: field for field in FIELDS}
TASK_FIELDS = tuple(FIELD)  # the names, in the order conf/tasks.json writes them (so the file diffs cleanly)
REQUIRED_FIELDS = tuple(f.name for f in FIELDS if f.required)
DEFAULTS = {f.name: f.default for f in FIELDS if not f.required}
MAX_LENGTH = {f.name: f.max_length for f in FIELDS if f.max_length}
INT_RANGES = {f.name: f.limits for f in FIELDS if f.kind == INTEGER}


def task_to_dict(task) -> dict:
    """A task's configuration (a model instance, the DAL's record, anything with the fields as attributes) as
    a dict of every field, in file order: what the API shows, conf/tasks.json holds and the services compare."""
    return {name: getattr(task, name) for name in TASK_FIELDS}
