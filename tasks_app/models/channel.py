"""A shared notification channel: a name tasks refer to (task_channels), an Apprise URL stored encrypted (a
secret: every role sees only its scheme and host), and whether tasks that name no channel use it."""
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tasks_app.secrets.values import SHOWN

CHANNEL_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
channel_name_validator = RegexValidator(CHANNEL_NAME_PATTERN, _("Use 1 to 64 letters, digits, '-' or '_'."),
                                        code="invalid_channel_name")


class Channel(models.Model):
    name = models.CharField(_("name"), max_length=64, unique=True, validators=[channel_name_validator])
    # {"encrypted": <Fernet token of the Apprise URL>, "shown": "dingtalk://oapi.dingtalk.com"}
    url = models.JSONField(_("Apprise URL"))
    is_default = models.BooleanField(_("default"), default=False, help_text=_(
        "Tasks that name no channel send their alerts to every default channel."))
    description = models.CharField(_("description"), max_length=500, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")

    def __str__(self):
        return self.name

    @property
    def shown_url(self) -> str:
        """The URL as every role sees it: scheme and host."""
        return (self.url or {}).get(SHOWN) or "***"

    @property
    def kind(self) -> str:
        """The Apprise scheme: dingtalk, wecombot, slack, mailto..."""
        return self.shown_url.split("://", 1)[0]
