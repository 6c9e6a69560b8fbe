"""Buttons that change state (POST only): run now, enable, disable, stop; and the cron preview the form asks for.
A script asking for JSON gets JSON; a plain form post is redirected back with a message."""
import zoneinfo

from django.contrib import messages
from django.http import HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View

from tasks_app import cron, params, roles
from tasks_app.definition.loader import TaskValidationError
from tasks_app.models import Task, calendar_named
from tasks_app.services.executions import NothingRunning, run_now, stop_task
from tasks_app.services.tasks import set_enabled

from .access import RoleRequiredMixin, TaskMixin, actor, json_error, log, wants_json


class TaskActionView(RoleRequiredMixin, TaskMixin, View):
    required_role = roles.OPERATOR
    http_method_names = ["post"]

    def http_method_not_allowed(self, request, *args, **kwargs):
        return HttpResponseNotAllowed(["POST"])

    def back(self, default):
        """Back to the page the button was on (a same-site `next`), else `default`."""
        target = self.request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, {self.request.get_host()}, self.request.is_secure()):
            return redirect(target)
        return redirect(default)


def env_lines(text: str) -> dict | None:
    """The run form's parameters, one NAME=value a line, as a dict (None when empty); ValueError naming a line
    that has no '='."""
    env = {}
    for number, line in enumerate((text or "").splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise ValueError(_("Parameters: line %(n)d (%(line)s) is not NAME=value.") % {"n": number, "line": line[:80]})
        env[name.strip()] = value
    return env or None


class RunNowView(TaskActionView):
    def post(self, request, *args, **kwargs):
        task = self.get_task()
        try:
            execution = run_now(task, actor=actor(request), via="web", env=env_lines(request.POST.get("env", "")))
        except TaskValidationError as exc:
            return self.refused(task, [str(m) for messages_ in exc.errors.values() for m in messages_])
        except ValueError as exc:
            return self.refused(task, [str(exc)])
        log.info("%s asked to run task %s now (execution %s)", actor(request), task.task_id, execution.execution_id)
        url = reverse("execution_view", args=[task.task_id, execution.execution_id])
        if wants_json(request):
            return JsonResponse({"execution_id": execution.execution_id, "url": url}, status=202)
        messages.success(request, _("Run #%(n)s of %(id)s queued; it starts within a second.") % {
            "n": execution.execution_id, "id": task.task_id})
        return self.back(url)

    def refused(self, task, problems):
        if wants_json(self.request):
            return json_error(" ".join(problems), status=400, field="env")
        for problem in problems:
            messages.error(self.request, problem)
        return self.back(reverse("task_view", args=[task.task_id]))


class SetEnabledView(TaskActionView):
    enabled = True

    def post(self, request, *args, **kwargs):
        task = self.get_task()
        set_enabled(task, self.enabled, actor=actor(request), via="web")
        task.refresh_from_db()
        log.info("%s %s task %s", actor(request), "enabled" if self.enabled else "disabled", task.task_id)
        if wants_json(request):
            row = render_to_string("tasks/_task_row.html", {"task": task, "user": request.user}, request=request)
            return JsonResponse({"task_id": task.task_id, "enabled": task.task_enabled, "row": row})
        if self.enabled:
            messages.success(request, _("Task %(id)s enabled.") % {"id": task.task_id})
        else:
            messages.success(request, _("Task %(id)s disabled.") % {"id": task.task_id})
        return self.back(reverse("task_view", args=[task.task_id]))


class StopView(TaskActionView):
    def post(self, request, *args, **kwargs):
        task = self.get_task()
        try:
            stopped = stop_task(task, actor=actor(request), via="web")
        except NothingRunning:
            if wants_json(request):
                return json_error(_("Task %(id)s is not running.") % {"id": task.task_id}, status=409)
            messages.warning(request, _("Task %(id)s is not running.") % {"id": task.task_id})
            return self.back(reverse("task_view", args=[task.task_id]))
        ids = [e.execution_id for e in stopped or []]
        log.info("%s asked to stop task %s (executions %s)", actor(request), task.task_id, ids)
        if wants_json(request):
            return JsonResponse({"stopping": ids}, status=202)
        messages.success(request, _("Stopping %(id)s; it ends within a few seconds.") % {"id": task.task_id})
        return self.back(reverse("task_view", args=[task.task_id]))


class CronPreviewView(RoleRequiredMixin, View):
    """GET ?expr=&tz=&calendar=: an HTML fragment with the schedule in words and the next five times (on the
    calendar's days), or the error."""

    def get(self, request):
        context = {"expr": "", "tz": "", "times": [], "error": None, "description": ""}
        try:
            context["expr"] = expr = (params.text(request.GET, "expr") or "").strip()
            context["tz"] = tz_name = params.zone_name(request.GET, "tz", timezone.get_default_timezone_name())
            context["calendar"] = calendar = params.text(request.GET, "calendar", 64) or ""
            if expr:
                preview = cron.preview(expr, tz_name, timezone.now(), 5, get_language())
                context["description"], context["times"] = preview.description, preview.times
                if calendar:
                    context["times"] = self._on_calendar(expr, tz_name, calendar)
        except params.ParamError as exc:
            context["error"] = exc.message
        except ValueError as exc:  # CronError names the field and the value
            context["error"] = str(exc)
        return render(request, "tasks/_cron_preview.html", context, status=400 if context["error"] else 200)

    @staticmethod
    def _on_calendar(expr, tz_name, calendar):
        """The next five times on the calendar's days, asked of the model as the task page and the API do."""
        if calendar_named(calendar) is None:
            raise params.ParamError("calendar", _("calendar %(value)s is not a calendar.") % {"value": calendar[:64]})
        draft = Task(task_schedule=expr, task_timezone=tz_name, task_calendar=calendar, task_enabled=True)
        zone = zoneinfo.ZoneInfo(tz_name)
        return [t.astimezone(zone) for t in draft.next_fire_times(5, timezone.now())]
