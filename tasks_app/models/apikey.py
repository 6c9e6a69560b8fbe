"""API keys: only a hash is stored; the key is shown once when created. A key works while it is not revoked, not
expired, its user is active and the user's password is the one it had when the key was made."""
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def password_fingerprint(user) -> str:
    """Changes whenever the user's password does (user.password is a salted hash, new at every change). Not the
    hash itself: the key table then tells nothing about the password."""
    return hashlib.sha256(("api-key:" + (user.password or "")).encode()).hexdigest()


class ApiKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=12, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: the key does not expire.")
    password_fingerprint = models.CharField(max_length=64, blank=True, default="", editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix}… ({self.name or self.user})"

    @classmethod
    def issue(cls, user, name="", expires_at=None):
        """Create a key for `user`; returns (ApiKey, plain key). The plain key is never stored.
        (Who may issue a key for whom is the rule of tasks_app.services.apikeys.issue_key.)"""
        key = "tsk_" + secrets.token_urlsafe(32)
        obj = cls.objects.create(user=user, name=name, prefix=key[:12], key_hash=hash_key(key),
                                 expires_at=expires_at, password_fingerprint=password_fingerprint(user))
        return obj, key

    def refusal(self, now=None) -> str | None:
        """Why this key may not be used now (a sentence for the 401 answer), or None when it may."""
        if not self.user.is_active:
            return "Invalid API key."
        if self.revoked_at is not None:
            return "This API key has been revoked."
        if self.expires_at is not None and self.expires_at <= (now or timezone.now()):
            return f"This API key expired at {self.expires_at.isoformat()}."
        if not secrets.compare_digest(self.password_fingerprint, password_fingerprint(self.user)):
            return "This API key stopped working when its user's password was changed; create a new one."
        return None

    @property
    def is_active(self):
        return self.refusal() is None

    def revoke(self):
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])
