"""Trigger URLs: a token that starts one task and can do nothing else. Only a hash is stored; the token is shown
once, when made. A token works while it is not revoked and not expired."""
import hashlib
import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TOKEN_PREFIX = "hk_"  # never "tsk_": a trigger token is never mistaken for an API key, nor the other way round
PREFIX_LENGTH = 10  # "hk_" and 7 characters of the random part: enough to tell tokens apart on a page


def hash_token(token: str) -> str:
    return hashlib.sha256(("hook:" + token).encode()).hexdigest()


class TriggerToken(models.Model):
    task = models.ForeignKey("tasks_app.Task", on_delete=models.CASCADE, related_name="trigger_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True, default="")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("trigger URL")
        verbose_name_plural = _("trigger URLs")

    def __str__(self):
        return f"{self.prefix}… ({self.name})" if self.name else f"{self.prefix}…"

    @classmethod
    def issue(cls, task, *, name="", expires_at=None, created_by=""):
        """A new token for `task`; returns (TriggerToken, plain token). The plain token is never stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        made = cls.objects.create(task=task, name=name, prefix=token[:PREFIX_LENGTH], token_hash=hash_token(token),
                                  expires_at=expires_at, created_by=created_by)
        return made, token

    @classmethod
    def find(cls, token: str):
        """The token's row whatever its state, or None. Looked up by its hash (an index), never by comparing."""
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        return cls.objects.select_related("task").filter(token_hash=hash_token(token)).first()

    def refusal(self, now=None) -> str | None:
        """Why this token may not start its task now (for the log, never for the caller), or None."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or timezone.now()):
            return "expired"
        return None

    @property
    def state(self) -> str:
        return self.refusal() or "active"
