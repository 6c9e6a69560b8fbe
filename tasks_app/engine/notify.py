"""Notifications when a run ends: a registry of notifier classes (settings.TASK_NOTIFIERS, dotted paths
imported lazily), e-mail and webhook built in. A failing notifier is logged; it never changes a result.
A notifier that sends HTTP requests sends them through tasks_app.outbound.urlopen (public addresses only)."""
import json
import logging
import smtplib
import socket
import time
import urllib.error
import urllib.request
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

from tasks_app import outbound
from tasks_app.alerts import outbox, outcomes, sender
from tasks_app.models import ExecutionStatus
from tasks_app.secrets import keys
from tasks_app.secrets.values import is_encrypted, shown_url

log = logging.getLogger("TaskExecutor")

OUTPUT_TAIL_LINES = 50
WEBHOOK_TIMEOUT = 5  # seconds
RETRIES = 1  # a notice that failed in a way retrying can help is tried once more, after RETRY_DELAY
RETRY_DELAY = 2.0
# A user's stop is deliberate, not a failure to be told about.
FAILURE_STATUSES = {ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT, ExecutionStatus.SKIPPED, ExecutionStatus.LOST}


class NotifierError(Exception):
    """A notice could not be sent. `retryable` says whether trying again later can help
    (a server down or slow) or not (a bad address, a refused recipient)."""

    def __init__(self, message, retryable=False):
        super().__init__(message)
        self.retryable = retryable


class Notifier:
    """A plugin: applies() says whether the task asked for this kind of notice; send() sends it."""

    def __init__(self, execution):
        self.execution = execution
        self.task = execution.task
        self.config = execution.task.task_notify or {}

    def applies(self) -> bool:
        raise NotImplementedError

    def send(self) -> None:
        raise NotImplementedError

    def target(self) -> str:
        """Where it sends, as the run's page may show it to any role (never a token)."""
        return ""


def execution_url(execution) -> str:
    return f"{settings.SITE_URL}/tasks/{execution.task.task_id}/executions/{execution.execution_id}"


def summary(execution) -> dict:
    """The facts every notice carries, as JSON-ready values; the task's secrets masked in each."""
    masker = execution.masker()
    return {key: masker.text(value) if isinstance(value, str) else value for key, value in _facts(execution).items()}


def _facts(execution) -> dict:
    task = execution.task
    return {
        "task_id": task.task_id,
        "task_name": task.task_name,
        "execution_id": execution.execution_id,
        "status": str(execution.status),
        "trigger": str(execution.trigger),
        "attempt": execution.attempt,
        "return_code": execution.return_code,
        "error_message": execution.error_message or "",
        "start_time": execution.start_time.isoformat() if execution.start_time else None,
        "end_time": execution.end_time.isoformat() if execution.end_time else None,
        "duration": execution.duration,
        "url": execution_url(execution),
    }


class EmailNotifier(Notifier):
    """task_notify["email"]: one address or several, comma-separated."""

    def recipients(self):
        raw = self.config.get("email") or ""
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return [a.strip() for a in items if a and a.strip()]

    def applies(self):
        return bool(self.recipients())

    def target(self):
        return "mailto:" + ", ".join(self.recipients())

    def subject(self, facts):
        return f"[scheduler] {facts['task_id']}: {facts['status']}"

    def body(self, facts):
        duration = "-" if facts["duration"] is None else f"{facts['duration']:.2f} s"
        tail = self.execution.read_output(tail_lines=OUTPUT_TAIL_LINES).rstrip("\n")
        lines = [
            f"Task: {facts['task_name']} ({facts['task_id']})",
            f"Execution: {facts['execution_id']} (trigger {facts['trigger']}, attempt {facts['attempt']})",
            f"Status: {facts['status']}",
            f"Started: {facts['start_time'] or '-'}",
            f"Ended: {facts['end_time'] or '-'}",
            f"Duration: {duration}",
            f"Return code: {'-' if facts['return_code'] is None else facts['return_code']}",
            f"Error: {facts['error_message'] or '-'}",
            "",
            f"Last {OUTPUT_TAIL_LINES} lines of output:",
            tail or "(no output)",
            "",
            f"Details: {facts['url']}",
        ]
        # The output is masked when written and when read; the whole notice once more, whatever a part holds.
        return self.execution.masker().text("\n".join(lines) + "\n")

    def send(self):
        facts = summary(self.execution)
        try:
            send_mail(self.subject(facts), self.body(facts), settings.DEFAULT_FROM_EMAIL, self.recipients())
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPAuthenticationError) as exc:
            raise NotifierError(f"e-mail refused: {exc}", retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifierError(f"e-mail not sent: {exc}", retryable=True) from exc


class WebhookNotifier(Notifier):
    """task_notify["webhook"]: an http(s) URL that receives the summary as a JSON POST."""

    def applies(self):
        return bool(self.config.get("webhook"))

    def target(self):
        hook = self.config.get("webhook")
        return (hook.get("shown") or "(secret)") if is_encrypted(hook) else shown_url(str(hook))

    def send(self):
        hook = self.config["webhook"]
        try:
            url = keys.open_secret(hook) if is_encrypted(hook) else str(hook)
        except keys.SecretUnreadable as exc:
            raise NotifierError(f"webhook {hook.get('shown') or '(secret)'}: {exc}", retryable=False) from None
        shown = shown_url(url)
        if urlsplit(url).scheme not in ("http", "https"):
            raise NotifierError(f"webhook {shown}: only http and https URLs are allowed", retryable=False)
        body = json.dumps(summary(self.execution), ensure_ascii=False).encode()
        request = urllib.request.Request(
            url, data=body, method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "task-scheduler"},
        )
        try:
            with outbound.urlopen(request, timeout=WEBHOOK_TIMEOUT) as response:
                response.read(1024)
        except outbound.OutboundRefused as exc:
            raise NotifierError(f"webhook {shown}: refused, {exc.reason}", retryable=False) from exc
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                # Where it points is not logged: a redirect target may carry a token as well.
                raise NotifierError(f"webhook {shown}: HTTP {exc.code}, a redirect (not followed)",
                                    retryable=False) from exc
            retryable = exc.code >= 500 or exc.code in (408, 429)
            raise NotifierError(f"webhook {shown}: HTTP {exc.code}", retryable=retryable) from exc
        except (urllib.error.URLError, socket.timeout, OSError) as exc:
            raise NotifierError(f"webhook {shown}: {getattr(exc, 'reason', exc)}", retryable=True) from exc


@lru_cache(maxsize=8)
def _load(paths: tuple) -> tuple:
    return tuple(import_string(path) for path in paths)


def notifier_classes() -> tuple:
    return _load(tuple(settings.TASK_NOTIFIERS))


def wanted(execution) -> bool:
    """Whether the task asked to hear about this outcome (on_success / on_failure)."""
    config = execution.task.task_notify or {}
    if execution.status == ExecutionStatus.SUCCESS:
        return bool(config.get("on_success"))
    if execution.status in FAILURE_STATUSES:
        return bool(config.get("on_failure"))
    return False


def notify_execution(execution) -> None:
    """Send the notices `execution` (finished; task loaded) calls for. Never raises.

    The caller decides when: after the last attempt of a failing run, not after each retry."""
    try:
        if not wanted(execution):
            return
        classes = notifier_classes()
    except Exception:
        log.exception("Notifications for execution %s: bad TASK_NOTIFIERS setting", execution.execution_id)
        return
    for cls in classes:
        _send_one(cls, execution)


def _send_one(cls, execution, attempts=1 + RETRIES):
    name = getattr(cls, "__name__", str(cls))
    where = f"task {execution.task.task_id} execution {execution.execution_id}"
    for attempt in range(1, attempts + 1):
        try:
            notifier = cls(execution)
            if not notifier.applies():
                return
            notifier.send()
            log.info("Sent %s for %s (%s)", name, where, execution.status)
            _keep(notifier, name, execution, attempt)
            return
        except NotifierError as exc:
            again = exc.retryable and attempt < attempts
            log.warning("%s failed for %s: %s (%s)", name, where, exc,
                        "trying again" if again else "retrying may help" if exc.retryable else "permanent")
            if not again:
                _keep(notifier, name, execution, attempt, str(exc))
                return
            time.sleep(RETRY_DELAY)
        except Exception as exc:
            log.warning("%s failed for %s: %r", name, where, exc)
            _keep(None, name, execution, attempt, f"{type(exc).__name__}: {exc}")
            return


def _keep(notifier, name, execution, attempts, error=""):
    """The notice on the run's page: which notifier, where to (scheme and host only), how it went."""
    try:
        target = notifier.target() if hasattr(notifier, "target") else ""
        event = "success" if execution.status == ExecutionStatus.SUCCESS else "failure"
        outbox.record_sent_elsewhere(event, name=name, target=target, execution=execution, task=execution.task,
                                     attempts=attempts, error=execution.masker().text(error))
    except Exception:
        log.exception("Could not record the %s notice of execution %s", name, execution.execution_id)


def _notify_unless_missed(execution) -> None:
    """task_notify's notices of a run's end; a missed slot's record is told by its incident (the alerts) alone."""
    if execution.status != ExecutionStatus.SKIPPED or not execution.error_message.startswith("missed "):
        notify_execution(execution)


def after_run(execution) -> None:
    """Everything a run's end sends: task_notify's notices (TASK_NOTIFIERS), then the alerts of its channels
    (tasks_app.alerts: rules, missed and overrun incidents)."""
    _notify_unless_missed(execution)
    try:
        outcomes.run_ended(execution)
    except Exception:
        log.exception("Alerts for execution %s failed", execution.execution_id)


def after_runs(executions) -> bool:
    """after_run for the ends of one round, the alerts' reads shared (outcomes.runs_ended). Returns whether a
    notice may have been queued for the channels."""
    for execution in executions:
        _notify_unless_missed(execution)
    try:
        return outcomes.runs_ended(executions)
    except Exception:
        log.exception("Alerts for executions %s failed", ", ".join(str(e.execution_id) for e in executions))
        return True


def notify_executions_later(executions):
    """after_runs in the notices' pool (as notify_execution_later), one job for the ends of one round; the
    outbox is looked at only when an alert was queued. Returns the Future."""
    return sender.submit_then_send_if_queued(after_runs, list(executions))


def notify_execution_later(execution):
    """after_run in the notices' own small pool (tasks_app.alerts.sender), so a slow SMTP server, webhook or
    channel (up to WEBHOOK_TIMEOUT s, plus retries) never holds an executor worker or the scheduler's loop.
    Returns the Future."""
    return sender.submit(after_run, execution)
