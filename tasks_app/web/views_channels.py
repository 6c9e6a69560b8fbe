"""The channel pages (/channels): viewers see the shared notification channels (each URL as scheme and host),
operators create, edit, delete them and send a test message, whose exact error is shown when it fails."""
from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import TemplateView

from tasks_app import roles
from tasks_app.definition.loader import TaskValidationError
from tasks_app.models import Channel, Task
from tasks_app.services import channels as channel_services

from .access import RoleRequiredMixin, actor, log


class ChannelForm(forms.Form):
    name = forms.RegexField(r"^[A-Za-z0-9_-]{1,64}$", label=gettext_lazy("Name"), max_length=64,
                            help_text=gettext_lazy("What tasks name in their alert channels: letters, digits, '-' "
                                                   "or '_'."))
    url = forms.CharField(label=gettext_lazy("Apprise URL"), max_length=2000, help_text=gettext_lazy(
        "Such as dingtalk://secret@token/, wecombot://key, feishu://token, slack://T/B/C, tgram://bot/chat, "
        "mailtos://user:pass@example.com. Stored encrypted and shown as scheme and host only: leave it as shown "
        "to keep the stored URL."))
    is_default = forms.BooleanField(label=gettext_lazy("Default channel"), required=False, help_text=gettext_lazy(
        "Tasks that name no channel send their alerts to every default channel."))
    description = forms.CharField(label=gettext_lazy("Description"), required=False, max_length=500)


def _channel(name):
    channel = Channel.objects.filter(name=name).first()
    if channel is None:
        raise Http404(_("No channel named %(name)s.") % {"name": name})
    return channel


class ChannelListView(RoleRequiredMixin, TemplateView):
    template_name = "channels/list.html"

    def get_context_data(self, **kwargs):
        channels = list(Channel.objects.order_by("name"))
        named = {}
        for task_id, names in Task.objects.exclude(task_channels=[]).values_list("task_id", "task_channels"):
            for name in names or []:
                named.setdefault(name, []).append(task_id)
        rows = [(channel, sorted(named.get(channel.name, []))) for channel in channels]
        return super().get_context_data(rows=rows, **kwargs)


class ChannelFormView(RoleRequiredMixin, View):
    required_role = roles.OPERATOR
    editing = False

    def get(self, request, name=None):
        channel = _channel(name) if self.editing else None
        initial = {} if channel is None else {"name": channel.name, "url": channel.shown_url,
                                              "is_default": channel.is_default, "description": channel.description}
        return self._page(request, ChannelForm(initial=initial), channel)

    def post(self, request, name=None):
        channel = _channel(name) if self.editing else None
        form = ChannelForm(request.POST)
        if form.is_valid():
            try:
                if channel is None:
                    channel = channel_services.create_channel(form.cleaned_data, actor=actor(request), via="web")
                else:
                    channel = channel_services.update_channel(channel, form.cleaned_data, actor=actor(request),
                                                              via="web")
            except TaskValidationError as exc:
                for field, problems in exc.errors.items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                messages.success(request, _("Channel %(name)s saved.") % {"name": channel.name})
                return redirect("channel_list")
        return self._page(request, form, channel, status=400)

    def _page(self, request, form, channel, status=200):
        return render(request, "channels/form.html", {"form": form, "channel": channel}, status=status)


class ChannelActionView(RoleRequiredMixin, View):
    required_role = roles.OPERATOR
    http_method_names = ["post"]

    def http_method_not_allowed(self, request, *args, **kwargs):
        return HttpResponseNotAllowed(["POST"])


class ChannelTestView(ChannelActionView):
    def post(self, request, name):
        channel = _channel(name)
        notice = channel_services.send_test(channel, actor=actor(request), via="web")
        if notice.status == "sent":
            messages.success(request, _("Test message sent to %(name)s (%(target)s).")
                             % {"name": channel.name, "target": channel.shown_url})
        else:
            messages.error(request, _("The test message to %(name)s (%(target)s) was not sent: %(error)s")
                           % {"name": channel.name, "target": channel.shown_url, "error": notice.last_error})
        log.info("%s sent a test message to channel %s: %s", actor(request), channel.name, notice.status)
        return redirect("channel_list")


class ChannelDeleteView(ChannelActionView):
    def post(self, request, name):
        channel = _channel(name)
        try:
            channel_services.delete_channel(channel, actor=actor(request), via="web")
        except TaskValidationError as exc:
            messages.error(request, " ".join(" ".join(problems) for problems in exc.errors.values()))
        else:
            messages.success(request, _("Channel %(name)s deleted.") % {"name": name})
        return redirect("channel_list")
