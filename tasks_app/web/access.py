"""Who may do what on the pages: login plus a minimum role per view, and the "WebInterface" log line
that names the user for every change made through the pages."""
import logging

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404

from tasks_app import roles
from tasks_app.models import Task

log = logging.getLogger("WebInterface")


class RoleRequiredMixin(LoginRequiredMixin):
    """Anonymous users go to the login page; a logged-in user without the role gets 403."""

    required_role = roles.VIEWER

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not roles.has_role(request.user, self.required_role):
            log.warning(
                "%s (role %s) refused %s %s", request.user.get_username(), roles.role_of(request.user),
                request.method, request.path,
            )
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class TaskMixin:
    """Views about one task, found by its task_id in the URL."""

    def get_task(self):
        if not hasattr(self, "_task"):
            self._task = get_object_or_404(Task.objects.select_related("status"), task_id=self.kwargs["task_id"])
        return self._task


def wants_json(request):
    """The pages' scripts ask for JSON; a plain form post gets a redirect and a message."""
    return "application/json" in request.headers.get("Accept", "")


def json_error(message, status=400, **extra):
    return JsonResponse({"error": str(message), **extra}, status=status)


def actor(request):
    return request.user.get_username()
