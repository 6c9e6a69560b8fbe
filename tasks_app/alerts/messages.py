"""The words of an alert, in the site's language (NOTIFY_LANGUAGE, else LANGUAGE_CODE): a title and a body naming
the task, the status, the duration, the return code, the error, the last lines of output (masked) and a link to
the run; for what did not happen, the slot missed, how long a run has gone on, when the scheduler was last seen."""
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

TAIL_LINES = 20
TAIL_CHARS = 3000  # chat services cut long messages (DingTalk at about 20,000 bytes): the end matters most


def language() -> str:
    return settings.NOTIFY_LANGUAGE or settings.LANGUAGE_CODE


def local(moment) -> str:
    """A time in the site's zone, e.g. 2026-03-01 10:00:00 +0800."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %z") if moment else "-"


def clock(moment) -> str:
    return timezone.localtime(moment).strftime("%H:%M") if moment else "-"


def execution_url(execution) -> str:
    return f"{settings.SITE_URL}/tasks/{execution.task.task_id}/executions/{execution.execution_id}"


def task_url(task) -> str:
    return f"{settings.SITE_URL}/tasks/{task.task_id}/view"


def duration_text(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 60:
        return _("%(n).1f s") % {"n": seconds}
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return _("%(m)d min %(s)d s") % {"m": minutes, "s": secs}
    return _("%(h)d h %(m)d min") % {"h": minutes // 60, "m": minutes % 60}


def _task_name(task) -> str:
    return task.task_id if task.task_name == task.task_id else f"{task.task_name} ({task.task_id})"


def _status_word(status) -> str:
    from tasks_app.models import ExecutionStatus

    return str(ExecutionStatus(status).label) if status in ExecutionStatus.values else str(status)


def _tail(execution) -> str:
    text = execution.read_output(tail_lines=TAIL_LINES).rstrip("\n")
    return text if len(text) <= TAIL_CHARS else "…" + text[-TAIL_CHARS:]


def run_alert(event: str, execution, decision) -> tuple[str, str]:
    """(title, body) of a failure, recovery or success alert about a finished run (its task loaded)."""
    with translation.override(language()):
        task = execution.task
        status = _status_word(execution.status)
        heads = {"failure": _("[scheduler] %(task)s: %(status)s"), "recovery": _("[scheduler] %(task)s: recovered"),
                 "success": _("[scheduler] %(task)s: %(status)s")}
        title = heads[event] % {"task": _task_name(task), "status": status}
        lines = [_("Task: %(task)s") % {"task": _task_name(task)},
                 _("Status: %(status)s") % {"status": status},
                 _("Started: %(when)s") % {"when": local(execution.start_time)},
                 _("Duration: %(duration)s") % {"duration": duration_text(execution.duration)},
                 _("Return code: %(code)s") % {"code": "-" if execution.return_code is None else execution.return_code}]
        if execution.error_message:
            lines.append(_("Error: %(error)s") % {"error": execution.error_message})
        if event == "failure" and decision.failures > 1:
            lines.append(_("Failed %(count)d times in a row since %(since)s.")
                         % {"count": decision.failures, "since": clock(decision.since)})
        if event == "failure" and decision.held:
            lines.append(_("%(count)d more failure alerts were held back by the quiet period.")
                         % {"count": decision.held})
        if event == "recovery":
            lines.append(_("Recovered after %(count)d failures since %(since)s.")
                         % {"count": decision.failures, "since": clock(decision.since)})
        tail = _tail(execution)
        if event != "success" and tail:
            lines += ["", _("Last lines of output:"), tail]
        lines += ["", _("Details: %(url)s") % {"url": execution_url(execution)}]
        return title, execution.masker().text("\n".join(lines))


def missed_alert(task, slot, reason: str) -> tuple[str, str]:
    with translation.override(language()):
        title = _("[scheduler] %(task)s: missed run") % {"task": _task_name(task)}
        lines = [_("Task: %(task)s") % {"task": _task_name(task)},
                 _("The run due at %(slot)s did not start.") % {"slot": local(slot)}]
        if reason:
            lines.append(_("Why: %(reason)s") % {"reason": reason})
        lines += ["", _("Details: %(url)s") % {"url": task_url(task)}]
        return title, "\n".join(lines)


def calendar_fallback_alert(task, slot, note: str) -> tuple[str, str]:
    with translation.override(language()):
        title = _("[scheduler] %(task)s: its calendar has no data for this year") % {"task": _task_name(task)}
        lines = [_("Task: %(task)s") % {"task": _task_name(task)},
                 _("The run due at %(slot)s went ahead as on Monday to Friday: %(note)s.") % {
                     "slot": local(slot), "note": note},
                 _("Until a newer calendar package is installed, every run on such a day says so."),
                 "", _("Details: %(url)s") % {"url": task_url(task)}]
        return title, "\n".join(lines)


def overrun_alert(execution, elapsed: float, threshold: float, expected: bool) -> tuple[str, str]:
    with translation.override(language()):
        task = execution.task
        title = _("[scheduler] %(task)s: still running after %(elapsed)s") % {
            "task": _task_name(task), "elapsed": duration_text(elapsed)}
        limit = (_("its expected duration, %(limit)s") if expected else
                 _("three times its usual duration, %(limit)s")) % {"limit": duration_text(threshold)}
        lines = [_("Task: %(task)s") % {"task": _task_name(task)},
                 _("Started: %(when)s") % {"when": local(execution.start_time)},
                 _("The run has gone on for %(elapsed)s, past %(limit)s.") % {
                     "elapsed": duration_text(elapsed), "limit": limit},
                 "", _("Details: %(url)s") % {"url": execution_url(execution)}]
        return title, "\n".join(lines)


def scheduler_down_alert(last_seen, stopped: bool, after: int) -> tuple[str, str]:
    with translation.override(language()):
        title = _("[scheduler] the scheduler is not running")
        if last_seen is None:
            said = _("No scheduler has been seen.")
        elif stopped:
            said = _("The scheduler stopped at %(when)s.") % {"when": local(last_seen)}
        else:
            said = _("The scheduler was last seen at %(when)s, more than %(after)d s ago.") % {
                "when": local(last_seen), "after": after}
        lines = [said, _("No task runs on its schedule until it runs again (manage.py runscheduler)."), "",
                 settings.SITE_URL]
        return title, "\n".join(lines)


def test_message(channel_name: str) -> tuple[str, str]:
    with translation.override(language()):
        return (_("[scheduler] test message"),
                _("A test message for channel %(name)s from the task scheduler at %(site)s.")
                % {"name": channel_name, "site": settings.SITE_URL})
