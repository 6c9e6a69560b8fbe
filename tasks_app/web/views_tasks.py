"""Pages about tasks: the list (/), a task's page (/tasks/{id}/view), the form (new, edit) and delete."""
import zoneinfo

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from tasks_app import params, roles
from tasks_app.definition.loader import TaskValidationError
from tasks_app.models import TASK_STATES, ExecutionStatus, Incident, Task
from tasks_app.secrets.values import is_shown_secret, public_env, public_notify
from tasks_app.services import tasks as task_services

from . import charts, queries, status, views_bulk
from .views_hooks import hooks_of, pause_refusing_hooks
from .access import RoleRequiredMixin, TaskMixin, actor, log
from .forms import TaskForm

PAGE_SIZE = 50


class TaskListView(RoleRequiredMixin, TemplateView):
    template_name = "tasks/list.html"

    def get_template_names(self):
        # The list's script refreshes the statuses by asking for the rows alone.
        if self.request.headers.get("X-Fragment") == "rows":
            return ["tasks/_task_rows.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        query, errors = self.request.GET, params.Errors()
        tasks = queries.filter_tasks(query, errors)
        page = Paginator(tasks, PAGE_SIZE).get_page(query.get("page"))
        filtering = any(query.get(k) for k in ("q", "state", "last", "tag"))
        tasks = list(page.object_list)
        alerts = Incident.open_kinds_by_task([task.pk for task in tasks])
        for task in tasks:
            task.open_alerts = alerts.get(task.pk, [])
        return super().get_context_data(
            page=page,
            tasks=tasks,
            filtering=filtering,
            any_task=filtering or page.paginator.count > 0,
            errors=errors,
            states=status.choices(TASK_STATES),
            results=status.choices(ExecutionStatus.finished()),
            q=query.get("q", ""),
            state=query.get("state", ""),
            last=query.get("last", ""),
            tag=query.get("tag", "") if "tag" not in errors else "",
            # Not for the rows' refresh every 5 seconds, which shows neither.
            cloud=[] if self.request.headers.get("X-Fragment") == "rows" else queries.tag_cloud(),
            bulk_actions=views_bulk.action_choices(self.request.user),
            bulk_filters=[(k, query[k]) for k in ("q", "state", "last", "tag") if query.get(k)],
            **kwargs,
        )


def shown_env(task) -> list:
    """task_env's rows as the task page shows them: a secret as set (with when), never its value."""
    rows = []
    for key, value in public_env(task.task_env or {}).items():
        if is_shown_secret(value):
            rows.append((key, {"secret": True, "changed": parse_datetime(value.get("changed_at") or "")}))
        else:
            rows.append((key, {"secret": False, "text": value}))
    return rows


class TaskDetailView(RoleRequiredMixin, TaskMixin, TemplateView):
    template_name = "tasks/view.html"

    def get_context_data(self, **kwargs):
        task = self.get_task()
        recent = list(task.executions.order_by("-execution_id")[:50])
        deps = list(task.task_dependencies or [])
        operator = roles.has_role(self.request.user, roles.OPERATOR)  # trigger URLs are theirs alone
        found = {t.task_id: t for t in Task.objects.filter(task_id__in=deps).select_related("status")}
        return super().get_context_data(
            task=task,
            next_times=[t.astimezone(zoneinfo.ZoneInfo(task.timezone_name)) for t in task.next_fire_times(5)],
            description=queries.describe(task.task_schedule),
            dependencies=[(d, found.get(d)) for d in deps],
            dependents=task_services.dependents_of(task.task_id),
            recent=recent[:10],
            incidents=list(task.incidents.select_related("execution")[:10]),
            active=any(e.is_active for e in recent[:5]) or task.executions.filter(
                status__in=ExecutionStatus.active()).exists(),
            chart=charts.duration_chart(list(reversed(recent))),
            notify=public_notify(task.task_notify) if isinstance(task.task_notify, dict) else {},
            env=shown_env(task),
            hooks=hooks_of(task) if operator else None,
            hooks_pause=pause_refusing_hooks(task) if operator else None,
            **kwargs,
        )


class TaskFormView(RoleRequiredMixin, TaskMixin, View):
    """/tasks/new and /tasks/{id}/edit: the same form; the services validate and save."""

    required_role = roles.OPERATOR
    template_name = "tasks/form.html"
    editing = False

    def instance(self):
        return self.get_task() if self.editing else None

    def get(self, request, *args, **kwargs):
        return self.show(TaskForm(instance=self.instance()))

    def post(self, request, *args, **kwargs):
        instance = self.instance()
        form = TaskForm(request.POST, instance=instance)
        if form.is_valid():
            try:
                if instance is None:
                    task = task_services.create_task(form.task_data(), actor=actor(request), via="web")
                else:
                    task = task_services.update_task(instance, form.task_data(), actor=actor(request), via="web")
            except TaskValidationError as exc:  # e.g. another user created the same id meanwhile
                form.add_loader_errors(exc)
            else:
                verb = "updated" if instance else "created"
                log.info("%s %s task %s", actor(request), verb, task.task_id)
                messages.success(
                    request,
                    _("Task %(id)s saved.") % {"id": task.task_id},
                )
                return redirect("task_view", task_id=task.task_id)
        log.info("%s submitted an invalid task form: %s", actor(request), ", ".join(sorted(form.errors)))
        return self.show(form, status=400)

    def show(self, form, status=200):
        context = {"form": form, "task": self.instance(), "editing": self.editing}
        return render(self.request, self.template_name, context, status=status)


class TaskDeleteView(RoleRequiredMixin, TaskMixin, View):
    """GET asks for confirmation; POST deletes (admins only)."""

    required_role = roles.ADMIN

    def get(self, request, *args, **kwargs):
        task = self.get_task()
        return render(request, "tasks/delete.html", {
            "task": task,
            "execution_count": task.executions.count(),
            "dependents": task_services.dependents_of(task.task_id),
        })

    def post(self, request, *args, **kwargs):
        task = self.get_task()
        task_id = task.task_id
        try:
            task_services.delete_task(task, actor=actor(request), via="web")
        except TaskValidationError as exc:  # e.g. other tasks still depend on it
            for field_messages in exc.errors.values():
                for message in field_messages:
                    messages.error(request, str(message))
            return redirect("task_delete", task_id=task_id)
        log.info("%s deleted task %s", actor(request), task_id)
        messages.success(request, _("Task %(id)s deleted.") % {"id": task_id})
        return redirect(reverse("task_list"))
