"""Backfill on the pages: "run for a date range" from a task's history (operators), and cancelling one as a
whole; the history page shows each backfill as a group with its runs' counts (views_runs.py)."""
from django.contrib import messages
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View

from tasks_app import params, roles
from tasks_app.definition.loader import TaskValidationError
from tasks_app.models import Backfill
from tasks_app.services import backfills as backfill_services

from .access import RoleRequiredMixin, TaskMixin, actor, log


class BackfillPostView(RoleRequiredMixin, TaskMixin, View):
    required_role = roles.OPERATOR
    http_method_names = ["post"]

    def http_method_not_allowed(self, request, *args, **kwargs):
        return HttpResponseNotAllowed(["POST"])

    def history(self, task, **query):
        url = reverse("task_executions", args=[task.task_id])
        return redirect(url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""))


class BackfillStartView(BackfillPostView):
    def post(self, request, task_id):
        task = self.get_task()
        form, zone = request.POST, task.timezone_name
        try:
            concurrency = params.integer(form, "concurrency", 1, minimum=1, maximum=backfill_services.MAX_CONCURRENCY)
            order = params.choice(form, "order", ["oldest_first", "newest_first"]) or "oldest_first"
            start = params.range_bound(form, "start", zone)
            end = params.range_bound(form, "end", zone, end=True)
            if start is None or end is None:
                raise params.ParamError("start" if start is None else "end",
                                        _("Give the first and the last day of the range."))
            backfill = backfill_services.start_backfill(
                task, start=start, end=end, newest_first=order == "newest_first", concurrency=concurrency,
                rerun_succeeded=form.get("rerun_succeeded") == "on", actor=actor(request), via="web")
        except (params.ParamError, TaskValidationError) as exc:
            messages.error(request, " ".join(" ".join(map(str, problems)) for problems in exc.errors.values()))
            return self.history(task)
        log.info("%s started backfill %s of task %s", actor(request), backfill.pk, task.task_id)
        messages.success(request, _("Backfill %(id)s: %(count)d run(s) queued.") % {"id": backfill.pk,
                                                                                   "count": backfill.slots})
        return self.history(task, backfill=backfill.pk)


class BackfillCancelView(BackfillPostView):
    def post(self, request, task_id, backfill_id):
        task = self.get_task()
        backfill = Backfill.objects.select_related("task").filter(pk=backfill_id, task=task).first()
        if backfill is None:
            raise Http404(_("No backfill %(id)s for this task.") % {"id": backfill_id})
        try:
            result = backfill_services.cancel_backfill(backfill, actor=actor(request), via="web")
        except backfill_services.NothingToCancel:
            messages.warning(request, _("Backfill %(id)s has no run left to cancel.") % {"id": backfill.pk})
        else:
            messages.success(request, _("Backfill %(id)s cancelled: %(count)d run(s) will not start, %(running)d "
                                        "stopping.") % {"id": backfill.pk, "count": result["cancelled"],
                                                        "running": len(result["stopping"])})
        return self.history(task, backfill=backfill.pk)
