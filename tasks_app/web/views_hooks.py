"""The task page's trigger URLs (operators and up): create one (its URL shown on the answer page once, never
again), revoke one. Both go through services.hooks, like the API."""
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from tasks_app import roles
from tasks_app.models import Pause, TriggerToken
from tasks_app.services import apikeys, hooks as hook_services

from .access import RoleRequiredMixin, TaskMixin, actor, log


def hooks_of(task) -> list:
    return list(TriggerToken.objects.filter(task=task))


def pause_refusing_hooks(task):
    """The pause that makes the task's trigger URLs answer 409 now (services.hooks.fire_hook asks the same
    question), or None."""
    return Pause.objects.covering(task.task_tags)


class HookCreateView(RoleRequiredMixin, TaskMixin, View):
    required_role = roles.OPERATOR
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        task = self.get_task()
        name, lifetime = request.POST.get("name", ""), request.POST.get("expires_in", "").strip()
        try:
            expires_at = timezone.now() + apikeys.parse_lifetime(lifetime) if lifetime else None
        except ValueError:
            messages.error(request, _("Expires in: %(value)r is not a lifetime such as 30m, 12h, 90d or 2w.")
                           % {"value": lifetime})
            return redirect(reverse("task_view", args=[task.task_id]) + "#trigger-urls")
        try:
            hook, token = hook_services.create_hook(task, name=name, expires_at=expires_at, actor=actor(request),
                                                    via="web")
        except ValueError:
            messages.error(request, _("Name: must not contain a NUL character.") if "\x00" in name
                           else _("Name: at most 100 characters."))
            return redirect(reverse("task_view", args=[task.task_id]) + "#trigger-urls")
        log.info("%s created trigger URL %s… for task %s", actor(request), hook.prefix, task.task_id)
        url = request.build_absolute_uri(reverse("api-hook", kwargs={"token": token}))
        response = render(request, "tasks/hook_created.html", {"task": task, "hook": hook, "url": url}, status=201)
        response["Cache-Control"] = "no-store"  # the token must not stay in a cache
        return response


class HookRevokeView(RoleRequiredMixin, TaskMixin, View):
    required_role = roles.OPERATOR
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        task = self.get_task()
        hook = get_object_or_404(TriggerToken, task=task, pk=kwargs["hook_id"])
        if hook_services.revoke_hook(hook, actor=actor(request), via="web"):
            log.info("%s revoked trigger URL %s… of task %s", actor(request), hook.prefix, task.task_id)
        messages.success(request, _("Trigger URL %(prefix)s… revoked: it starts nothing any more.")
                         % {"prefix": hook.prefix})
        return redirect(reverse("task_view", args=[task.task_id]) + "#trigger-urls")
