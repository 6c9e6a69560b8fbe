"""The pause switch's pages: /pauses (what is paused now and before, and the form to pause everything or one tag
with an optional end time and reason) and the resume button of the banner every page shows."""
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from tasks_app import roles
from tasks_app.models import Pause
from tasks_app.services import pauses as pause_services

from . import queries
from .access import RoleRequiredMixin, actor, log

SHOWN_AT_MOST = 50


class PauseForm(forms.Form):
    tag = forms.CharField(label=gettext_lazy("What to pause"), required=False, max_length=64,
                          widget=forms.TextInput(attrs={"list": "pause-tags", "placeholder": gettext_lazy("every task")}),
                          help_text=gettext_lazy("Empty: every task; else the tasks with this tag."))
    until = forms.DateTimeField(label=gettext_lazy("Until"), required=False,
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
                                help_text=gettext_lazy("Empty: until someone resumes. In your time zone."))
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=pause_services.REASON_MAX)


class PauseListView(RoleRequiredMixin, View):
    def get(self, request):
        return self.show(PauseForm())

    def post(self, request):
        if not roles.has_role(request.user, roles.OPERATOR):
            return self.refuse()
        form = PauseForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                made = pause_services.pause(tag=data["tag"].strip(), until=data["until"], reason=data["reason"],
                                            actor=actor(request), via="web")
            except pause_services.PauseError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                log.info("%s paused %s", actor(request), made.scope)
                messages.warning(request, _("Paused: the slots of the tasks it covers are recorded as skipped until "
                                            "it is resumed."))
                return redirect("pause_list")
        return self.show(form, status=400)

    def refuse(self):
        log.warning("%s (role %s) refused POST %s", actor(self.request), roles.role_of(self.request.user),
                    self.request.path)
        raise PermissionDenied

    def show(self, form, status=200):
        now = timezone.now()
        return render(self.request, "tasks/pauses.html", {
            "form": form, "active": list(Pause.objects.active(now)),
            "history": [p for p in Pause.objects.all()[:SHOWN_AT_MOST] if p.ended_at or (p.until and p.until <= now)],
            "cloud": queries.tag_cloud(),
        }, status=status)


class ResumeView(RoleRequiredMixin, View):
    required_role = roles.OPERATOR
    http_method_names = ["post"]

    def http_method_not_allowed(self, request, *args, **kwargs):
        return HttpResponseNotAllowed(["POST"])

    def post(self, request, pause_id):
        try:
            ended = pause_services.resume(pause_id, actor=actor(request), via="web")
        except pause_services.PauseError as exc:
            messages.error(request, exc.message)
        else:
            log.info("%s resumed %s", actor(request), ended.scope)
            messages.success(request, _("Resumed. The slots skipped while paused are not run again."))
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
            return redirect(target)
        return redirect("pause_list")
