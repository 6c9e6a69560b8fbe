"""POST /tasks/bulk: the task list's bulk actions (the checked rows, or every task matching the list's filters),
answered with a page that says what happened to each task."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from tasks_app import params, roles
from tasks_app.services import bulk

from . import queries
from .access import RoleRequiredMixin, actor, log

# The action menu's words, in its order; delete is offered to admins only.
ACTION_LABELS = {
    bulk.ENABLE: gettext_lazy("Enable"),
    bulk.DISABLE: gettext_lazy("Disable"),
    bulk.RUN: gettext_lazy("Run now"),
    bulk.ADD_TAG: gettext_lazy("Add tag"),
    bulk.REMOVE_TAG: gettext_lazy("Remove tag"),
    bulk.DELETE: gettext_lazy("Delete"),
}
RESULT_LABELS = {
    bulk.DONE: gettext_lazy("done"),
    bulk.UNCHANGED: gettext_lazy("unchanged"),
    bulk.REFUSED: gettext_lazy("refused"),
    bulk.NOT_FOUND: gettext_lazy("not found"),
}


def action_choices(user):
    """The bulk actions `user` may choose on the task list."""
    return [(name, label) for name, label in ACTION_LABELS.items()
            if name not in bulk.ADMIN_ONLY or roles.has_role(user, roles.ADMIN)]


class BulkActionView(RoleRequiredMixin, View):
    required_role = roles.OPERATOR
    http_method_names = ["post"]

    def http_method_not_allowed(self, request, *args, **kwargs):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request):
        data, back = request.POST, self.back_url()
        action = data.get("action", "")
        if action in bulk.ADMIN_ONLY and not roles.has_role(request.user, roles.ADMIN):
            log.warning("%s (role %s) refused the bulk action %s", actor(request), roles.role_of(request.user), action)
            raise PermissionDenied
        if data.get("all_matching"):
            errors = params.Errors()
            tasks = queries.filter_tasks(data, errors)
            if errors:
                for name, message in errors.items():
                    messages.error(request, message)
                return redirect(back)
            task_ids = list(tasks.values_list("task_id", flat=True)[:bulk.MAX_TASKS + 1])
        else:
            task_ids = data.getlist("task_ids")
        try:
            outcomes = bulk.bulk_action(action, task_ids, tag=data.get("bulk_tag", "").strip() or None,
                                        actor=actor(request), via="web")
        except bulk.BulkError as exc:
            messages.error(request, exc.message)
            return redirect(back)
        counts = {name: sum(o.result == name for o in outcomes) for name in RESULT_LABELS}
        log.info("%s: bulk %s on %d task(s): %s", actor(request), action, len(outcomes), counts)
        return render(request, "tasks/bulk_result.html", {
            "action": ACTION_LABELS.get(action, action), "action_name": action, "tag": data.get("bulk_tag", "").strip(),
            "outcomes": outcomes, "labels": RESULT_LABELS, "back": back,
            "counts": [(name, RESULT_LABELS[name], n) for name, n in counts.items() if n],
        })

    def back_url(self):
        """The task list as it was (a same-site `next`), else the plain list."""
        target = self.request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, {self.request.get_host()}, self.request.is_secure()):
            return target
        return reverse("task_list")
