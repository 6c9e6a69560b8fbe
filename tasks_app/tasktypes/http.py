"""The http type: one request to a URL (method, headers, body, the statuses that mean success), sent through the
outbound guard of notifications (no internal addresses unless NOTIFY_ALLOW_PRIVATE_HOSTS allows them, no
redirects, no proxy). `${NAME}` in the URL, a header or the body is the run's environment variable NAME (task_env,
a secret included, or a one-off value), so a token lives in task_env, encrypted, not in the options. The answer's
status line and the first 64 KiB of its body are the run's output."""
import socket
import string
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.utils.translation import gettext_lazy as _

from tasks_app import outbound

from .base import CHOICE, INT_LIST, TEXT, TEXT_MAP, TEXTAREA, Option, OptionErrors, Performed, TaskType

KEPT = 64 * 1024  # bytes of the answer's body kept as output
DEFAULT_TIMEOUT = 300  # seconds, for a task without task_timeout
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
CHUNK = 16 * 1024
POLL = 1.0  # seconds a socket operation may block before the run looks at its stop request and deadline


class HttpType(TaskType):
    name = "http"
    label = _("HTTP request")
    runs_file = False
    performs = True
    options = (
        Option("method", CHOICE, _("Method"), default="GET", choices=METHODS),
        Option("url", TEXT, _("URL"), required=True, max_length=2000,
               help=_("http:// or https://; ${NAME} is replaced by the run's environment variable NAME")),
        Option("headers", TEXT_MAP, _("Headers"), default={},
               help=_('JSON object, e.g. {"Authorization": "Bearer ${API_TOKEN}"}')),
        Option("body", TEXTAREA, _("Body"), default="", max_length=1024 * 1024),
        Option("expected_statuses", INT_LIST, _("Expected status codes"), default=[],
               help=_("e.g. 200, 204; empty: any 2xx")),
    )

    def clean_options(self, options):
        cleaned = super().clean_options(options)
        errors = {}
        url = cleaned["url"]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors["url"] = [f"url {url!r} must be an http:// or https:// URL with a host"]
        elif "${" not in parts.netloc:
            try:
                outbound.check_url(url)
            except outbound.OutboundRefused as exc:
                errors["url"] = [f"url {url!r} is refused: {exc}"]
        for code in cleaned.get("expected_statuses", []):
            if not 100 <= code <= 599:
                errors.setdefault("expected_statuses", []).append(f"expected_statuses: {code} is not an HTTP "
                                                                  f"status (100 to 599)")
        for header, value in cleaned.get("headers", {}).items():
            if not header or any(c in header for c in ":\r\n ") or "\r" in value or "\n" in value:
                errors.setdefault("headers", []).append(f"headers: {header!r} is not a valid header line")
        if errors:
            raise OptionErrors(errors)
        return cleaned

    def perform(self, run):
        options = run.options
        fill = _filler(run.env)
        url = fill(options["url"])
        method = options.get("method", "GET")
        body = fill(options.get("body") or "").encode("utf-8") if method not in ("GET", "HEAD") else None
        headers = {name: fill(value) for name, value in (options.get("headers") or {}).items()}
        expected = options.get("expected_statuses") or []
        limit = run.timeout or DEFAULT_TIMEOUT
        deadline = time.monotonic() + limit
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        if run.log:
            run.log.info("HTTP %s %s", method, _shown_url(url))
        try:
            answer = outbound.urlopen(request, timeout=min(limit, POLL * 10))
        except urllib.error.HTTPError as exc:  # 3xx (never followed), 4xx, 5xx: an answer all the same
            answer = exc
        except outbound.OutboundRefused as exc:
            return Performed(1, f"refused: {exc}")
        except (urllib.error.URLError, OSError) as exc:
            if _timed_out(exc):
                return Performed(1, f"no answer within {limit:g} s", timed_out=True)
            return Performed(1, f"cannot connect: {getattr(exc, 'reason', exc)}")
        with answer:
            status, reason = answer.status, getattr(answer, "reason", "") or ""
            run.output.write(f"HTTP {status} {reason}\n".encode("utf-8", "replace"))
            outcome = _read_body(answer, run, deadline)
        if outcome is not None:
            return outcome
        ok = status in expected if expected else 200 <= status < 300
        if ok:
            return Performed(0, details={"status": status})
        wanted = ", ".join(map(str, expected)) if expected else "2xx"
        return Performed(1, f"HTTP status {status} {reason}".strip() + f" (expected {wanted})",
                         details={"status": status})


def _read_body(answer, run, deadline) -> Performed | None:
    """Copies the first KEPT bytes of the body to the output; a Performed if the run must end otherwise."""
    kept = 0
    try:
        sock = getattr(getattr(getattr(answer, "fp", None), "raw", None), "_sock", None)
        if sock is not None:
            sock.settimeout(POLL)
        while kept < KEPT:
            if run.stopped():
                return Performed(1, "stopped", stopped=True)
            if time.monotonic() >= deadline:
                return Performed(1, "the answer did not end within the timeout", timed_out=True)
            try:
                chunk = answer.read(min(CHUNK, KEPT - kept))
            except (socket.timeout, TimeoutError):
                continue
            if not chunk:
                break
            run.output.write(chunk)
            kept += len(chunk)
    except OSError as exc:
        return Performed(1, f"the answer was cut: {exc}")
    if kept >= KEPT and answer.read(1):
        run.output.write(f"\n[only the first {KEPT // 1024} KiB of the answer are kept]\n".encode())
    return None


def _filler(env):
    def fill(text):
        return string.Template(text).safe_substitute(env) if "$" in text else text
    return fill


def _timed_out(exc) -> bool:
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, (socket.timeout, TimeoutError))


def _shown_url(url) -> str:
    """Scheme, host and path: a query may hold a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}" + ("?..." if parts.query else "")
