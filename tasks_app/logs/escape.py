"""The formatter of logs/sys.log and the console: whatever a user typed (a field name, a task id, a path) is
logged on one line, so no value can forge a log record. Line breaks and every other control character are
written as escapes (\\n, \\r, \\x1b, \\u2028); a traceback keeps its lines, each indented so that none of them
can pass for a record (records start with their date at the left edge). A trigger URL's token (the path of
/api/hooks/<token> is its only credential) is cut to its prefix wherever a line holds it: Django's own lines
(django.request's "Request Entity Too Large: <path>", a crash's) name the path."""
import logging
import re

from .setup import DATE_FORMAT, LOG_FORMAT

# C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators (str.splitlines() breaks on them).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
TRACEBACK_INDENT = "    "
# models/hook.py: "hk_" and 43 characters; the first 10 are the prefix shown everywhere.
_HOOK_TOKEN = re.compile(r"\b(hk_[A-Za-z0-9_-]{7})[A-Za-z0-9_-]{16,}")


def hide_hook_tokens(text: str) -> str:
    return _HOOK_TOKEN.sub("\\1…", text)


def _escape_one(match) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` on one line: every control character (line breaks included) written as an escape."""
    return _CONTROLS.sub(_escape_one, text)


def escape_block(text: str) -> str:
    """A multi-line block (a traceback) that keeps its line breaks, each line indented, other controls escaped."""
    lines = _CONTROLS_BUT_NEWLINE.sub(_escape_one, text.rstrip("\n")).split("\n")
    return "\n".join(TRACEBACK_INDENT + line for line in lines)


class EscapingFormatter(logging.Formatter):
    """logging.Formatter with the product's format, whose output holds no line break but the ones it adds itself
    (before an indented traceback or stack), and no other control character."""

    def __init__(self, fmt=LOG_FORMAT, datefmt=DATE_FORMAT, **kwargs):
        super().__init__(fmt, datefmt, **kwargs)

    def format(self, record):
        # The console and sys.log share this formatter (LOGGING): a record is formatted once for both.
        done = record.__dict__.get("_escaped")
        if done is not None and done[0] == id(self):
            return done[1]
        text = self._format(record)
        record._escaped = (id(self), text)
        return text

    def _format(self, record):
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = escape_controls(self.formatMessage(record))
        # Not record.exc_text: another handler's formatter may have cached an unescaped traceback there.
        traceback = self.formatException(record.exc_info) if record.exc_info else record.exc_text
        if traceback:
            text += "\n" + escape_block(traceback)
        if record.stack_info:
            text += "\n" + escape_block(self.formatStack(record.stack_info))
        return hide_hook_tokens(text) if "hk_" in text else text
