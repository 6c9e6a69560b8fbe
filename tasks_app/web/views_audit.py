"""The audit trail's pages: /audit (every role that can log in; filters on user, task, action and days; 50 a
page) and a task's versions (/tasks/{id}/versions: any two side by side, and "Restore this version" for
operators, through the same service as the API)."""
from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from tasks_app import params, roles
from tasks_app.audit import events, trail, versions
from tasks_app.definition.loader import TaskValidationError
from tasks_app.services.versions import VersionNotFound, restore_version

from . import queries
from .access import RoleRequiredMixin, TaskMixin, actor, log

PAGE_SIZE = 50
VERSIONS_PAGE_SIZE = 50


class AuditListView(RoleRequiredMixin, TemplateView):
    template_name = "audit/list.html"

    def get_context_data(self, **kwargs):
        query, errors = self.request.GET, params.Errors()
        zone = timezone.get_current_timezone()
        chosen = {
            "user": (errors.read(params.text, query, "user") or "").strip(),
            "task": (errors.read(params.text, query, "task") or "").strip(),
            "action": errors.read(params.choice, query, "action", events.EVENTS) or "",
        }
        rows = trail.filter_entries(trail.entries(), **chosen, since=errors.read(params.day, query, "since", zone),
                                    until=errors.read(params.day, query, "until", zone, end=True))
        page = queries.CheapPage(rows, query.get("page"), PAGE_SIZE)
        return super().get_context_data(
            page=page, entries=[shown(entry) for entry in page.object_list], errors=errors,
            actions=[(name, events.label(name)) for name in events.EVENTS], chosen=chosen,
            since=query.get("since", ""), until=query.get("until", ""),
            filtering=any(query.get(k) for k in ("user", "task", "action", "since", "until")), **kwargs,
        )


def shown(entry) -> dict:
    """An entry for a page: trail.present() and its changes as rows."""
    presented = trail.present(entry)
    presented["rows"] = trail.change_rows(presented["changes"])
    return presented


class TaskVersionsView(RoleRequiredMixin, TaskMixin, TemplateView):
    """The versions, newest first, and two of them compared: ?a= (older) &b= (newer), by default the latest two."""

    template_name = "tasks/versions.html"

    def get_context_data(self, **kwargs):
        task = self.get_task()
        query, errors = self.request.GET, params.Errors()
        page = queries.CheapPage(versions.version_entries(task.task_id), query.get("page"), VERSIONS_PAGE_SIZE)
        listed = [shown(entry) for entry in page.object_list]
        latest = versions.latest_number(task.task_id)
        newer = errors.read(params.integer, query, "b", latest, minimum=1, maximum=latest or 1)
        older = errors.read(params.integer, query, "a", max(1, (newer or latest) - 1), minimum=1,
                            maximum=latest or 1)
        rows, pair = [], None
        if latest and older and newer:
            pair = (versions.version_entry(task.task_id, older), versions.version_entry(task.task_id, newer))
            if None in pair:  # removed by the retention of the audit trail
                errors["a" if pair[0] is None else "b"] = _("That version is no longer kept.")
                pair = None
            else:
                rows = versions.compare(*pair)
        return super().get_context_data(
            task=task, page=page, versions=listed, latest=latest, errors=errors, rows=rows,
            older=trail.present(pair[0]) if pair else None, newer=trail.present(pair[1]) if pair else None,
            numbers=range(latest, 0, -1), **kwargs,
        )


class RestoreVersionView(RoleRequiredMixin, TaskMixin, View):
    """POST: the task becomes what version {n} was (operators); back to the versions with a message."""

    required_role = roles.OPERATOR
    http_method_names = ["post"]

    def post(self, request, *args, number, **kwargs):
        task = self.get_task()
        before = versions.latest_number(task.task_id)
        try:
            restore_version(task, number, actor=actor(request), via="web")
        except VersionNotFound as exc:
            messages.error(request, str(exc))
        except TaskValidationError as exc:  # e.g. its script or a dependency no longer exists
            for field, problems in exc.errors.items():
                for problem in problems:
                    messages.error(request, _("Version %(n)s cannot be restored: %(problem)s") % {
                        "n": number, "problem": problem})
        else:
            latest = versions.latest_number(task.task_id)
            if latest == before:
                messages.info(request, _("Task %(id)s is already what version %(n)s was: nothing changed.") % {
                    "id": task.task_id, "n": number})
            else:
                log.info("%s restored version %s of task %s (now version %s)", actor(request), number, task.task_id,
                         latest)
                messages.success(request, _("Version %(n)s of %(id)s restored: it is now version %(latest)s.") % {
                    "n": number, "id": task.task_id, "latest": latest})
        return redirect("task_versions", task_id=task.task_id)
