"""Admin for notification channels (viewers see them, operators change them) and the notices sent (read-only):
the URL is written in full and shown as scheme and host only; saving and deleting go through
services.channels, and the "send test message" action says, per channel, whether it was sent or the exact
error."""
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tasks_app.definition.loader import TaskValidationError
from tasks_app.models import Channel, Notice
from tasks_app.roles import OPERATOR, VIEWER
from tasks_app.services import channels as channel_services

from .site import RoleModelAdmin


class ChannelAdminForm(forms.ModelForm):
    url = forms.CharField(label=_("Apprise URL"), max_length=2000, help_text=_(
        "Such as dingtalk://secret@token/ or mailtos://user:pass@example.com. Stored encrypted and shown as scheme "
        "and host only: leave it as shown to keep the stored URL."))

    class Meta:
        model = Channel
        fields = ("name", "url", "is_default", "description")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["url"] = self.instance.shown_url

    def clean(self):
        cleaned = super().clean()
        data = {name: cleaned.get(name) for name in ("name", "url", "is_default", "description")}
        data["description"] = data["description"] or ""
        try:
            if self.instance.pk:
                channel_services.clean_channel(data, Channel.objects.get(pk=self.instance.pk))
            else:
                channel_services.clean_channel(data, None)
        except TaskValidationError as exc:
            raise ValidationError({name if name in self.fields else None: problems
                                   for name, problems in exc.errors.items()}) from None
        self.channel_data = data
        return cleaned

    def _post_clean(self):
        pass  # the service validates and writes; the model's own checks would see the URL as text


@admin.register(Channel)
class ChannelAdmin(RoleModelAdmin, admin.ModelAdmin):
    required_roles = {"view": VIEWER, "add": OPERATOR, "change": OPERATOR, "delete": OPERATOR, "test": OPERATOR}
    form = ChannelAdminForm
    list_display = ("name", "shown_url", "is_default", "description", "updated_at")
    search_fields = ("name", "description")
    actions = ("send_test_message",)

    @admin.display(description=_("URL (scheme and host)"))
    def shown_url(self, channel):
        return channel.shown_url

    def save_model(self, request, obj, form, change):
        user = request.user
        if change:
            saved = channel_services.update_channel(Channel.objects.get(pk=obj.pk), form.channel_data, actor=user,
                                                    via="admin")
        else:
            saved = channel_services.create_channel(form.channel_data, actor=user, via="admin")
        obj.pk, obj.url = saved.pk, saved.url

    def delete_model(self, request, obj):
        try:
            channel_services.delete_channel(obj, actor=request.user, via="admin")
        except TaskValidationError as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def delete_queryset(self, request, queryset):
        for channel in queryset:
            self.delete_model(request, channel)

    @admin.action(description=_("Send a test message"), permissions=["test"])
    def send_test_message(self, request, queryset):
        for channel in queryset:
            notice = channel_services.send_test(channel, actor=request.user, via="admin")
            if notice.status == "sent":
                self.message_user(request, _("Test message sent to %(name)s (%(target)s).")
                                  % {"name": channel.name, "target": channel.shown_url}, messages.SUCCESS)
            else:
                self.message_user(request, _("The test message to %(name)s (%(target)s) was not sent: %(error)s")
                                  % {"name": channel.name, "target": channel.shown_url, "error": notice.last_error},
                                  messages.ERROR)

    def has_test_permission(self, request):
        return self.role_permits(request, "test")


@admin.register(Notice)
class NoticeAdmin(RoleModelAdmin, admin.ModelAdmin):
    required_roles = {"view": VIEWER}
    list_display = ("created_at", "event", "task", "execution", "channel", "target", "status", "attempts",
                    "last_error")
    list_filter = ("status", "event")
    search_fields = ("channel", "task__task_id")
    list_select_related = ("task",)
    readonly_fields = [f.name for f in Notice._meta.fields]
