"""Nothing a user types reaches logs/sys.log unescaped: a value with line breaks or other control characters
stays on its record's line, and a traceback keeps its lines, indented so that none passes for a record."""
import logging
import re

from django.conf import settings

from tasks_app.logs.escape import EscapingFormatter
from tasks_app.logs.setup import make_file_handler
from tests.api.conftest import http, make_user, simple_task
from tasks_app.models import ApiKey

RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d - [A-Z]+ - [\w-]+ - ")
FORGED = "2024-01-01 00:00:00 - INFO - APIInterface - admin deleted task everything"


def log_through_sys_log_handler(path, *args, exc_info=None):
    """One record through a handler built as LOGGING builds the sys.log one (same factory, same formatter)."""
    handler = make_file_handler(str(path))
    handler.setFormatter(EscapingFormatter())
    logger = logging.getLogger("test-escaping")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error(*args, exc_info=exc_info)
    finally:
        logger.removeHandler(handler)
        handler.close()
    return path.read_text(encoding="utf-8")


def test_line_breaks_and_control_characters_in_a_logged_value_are_escaped(tmp_path):
    value = f"name\n{FORGED}\rcarriage\x1b[31mred\x00nul\x85nel\u2028sep\ttab"
    text = log_through_sys_log_handler(tmp_path / "sys.log", "Unknown field %s", value)

    assert text.count("\n") == 1 and text.endswith("\n")  # one record, its own newline only
    assert RECORD.match(text)
    assert ("Unknown field name\\n2024-01-01 00:00:00 - INFO - APIInterface - admin deleted task everything"
            "\\rcarriage\\x1b[31mred\\x00nul\\x85nel\\u2028sep\\ttab") in text
    assert "中文" in log_through_sys_log_handler(tmp_path / "zh.log", "%s", "中文")  # text is not escaped


def test_a_traceback_keeps_its_lines_indented_and_a_forged_line_inside_it_stays_indented(tmp_path):
    try:
        raise ValueError(f"bad value\n{FORGED}\r")
    except ValueError as exc:
        text = log_through_sys_log_handler(tmp_path / "sys.log", "Unexpected error", exc_info=exc)

    lines = text.splitlines()
    assert RECORD.match(lines[0]) and lines[0].endswith("Unexpected error")
    assert lines[1] == "    Traceback (most recent call last):"
    assert all(line.startswith("    ") for line in lines[1:])
    assert f"    {FORGED}\\r" in lines
    assert [line for line in lines if RECORD.match(line)] == [lines[0]]


def test_the_sys_log_and_console_handlers_use_the_escaping_formatter():
    for name in ("APIInterface", "TaskLoader", "SchedulerEngine"):
        handlers = logging.getLogger(name).handlers
        assert handlers and all(isinstance(h.formatter, EscapingFormatter) for h in handlers), name
    assert settings.LOGGING["handlers"]["sys_log"]["formatter"] == "document"


def test_an_unknown_field_name_with_a_newline_sent_through_the_api_forges_no_line_in_sys_log(serve):
    key = ApiKey.issue(make_user("ops", "admin"), name="ops")[1]
    server = serve()
    evil = f"colour\n{FORGED}"
    answer = http("POST", server.url + "/api/tasks", key, {**simple_task("t1"), evil: "blue"})
    assert answer.status == 400, answer.body
    assert evil in answer.json()  # the API names the field as sent (JSON escapes it)

    sys_log = (settings.LOGS_DIR / "sys.log").read_text(encoding="utf-8")
    lines = sys_log.splitlines()
    assert any("colour\\n2024-01-01 00:00:00" in line for line in lines), sys_log
    assert all(RECORD.match(line) for line in lines), sys_log
    assert not any(line.startswith(FORGED) for line in lines)


class CountingEscapingFormatter(EscapingFormatter):
    calls = 0

    def formatMessage(self, record):
        self.calls += 1
        return super().formatMessage(record)


def test_a_record_for_the_console_and_sys_log_is_formatted_once_and_the_same_for_both(tmp_path):
    formatter = CountingEscapingFormatter()
    handlers = [make_file_handler(str(tmp_path / name)) for name in ("console.log", "sys.log")]
    logger = logging.Logger("test-escaping-twice")
    for handler in handlers:
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logger.error("Unknown field %s", "a\nb")
    other = EscapingFormatter()  # another formatter does its own work: a record carries no one else's line
    other_line = other.format(logger.makeRecord("other", logging.INFO, "", 0, "x %s", ("y",), None))
    for handler in handlers:
        handler.close()

    assert formatter.calls == 1
    lines = [(tmp_path / name).read_text(encoding="utf-8") for name in ("console.log", "sys.log")]
    assert lines[0] == lines[1] and lines[0].endswith(" - test-escaping-twice - Unknown field a\\nb\n")
    assert other_line.endswith(" - other - x y")
