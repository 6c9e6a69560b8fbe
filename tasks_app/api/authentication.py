"""API keys sent as `Authorization: Bearer <key>`; the key acts as its user, with the user's role. An unknown,
revoked or expired key, or one whose user was deactivated or changed their password, is answered 401 and counts
towards the lock-out of its address (throttles.BadKeyLockout)."""
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions

from tasks_app.models import ApiKey
from tasks_app.models.apikey import hash_key

from .lookups import key_with_user
from .throttles import BadKeyLockout

# last_used_at is written at most this often per key, so reads do not each cost a write.
TOUCH_EVERY = timedelta(minutes=1)


class BearerKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None  # not ours: session authentication may still apply
        lockout = BadKeyLockout(request)
        wait = lockout.retry_after()
        if wait:
            raise exceptions.Throttled(wait, detail="Too many requests with invalid API keys from your address; "
                                                    f"try again in {wait} seconds.")
        api_key = None
        if len(parts) != 2:
            refusal = "Malformed Authorization header: expected 'Bearer <key>'."
        else:
            try:
                key = parts[1].decode("ascii")
            except UnicodeDecodeError:
                key = None
            api_key = key and key_with_user(hash_key(key))
            refusal = "Invalid API key." if not api_key else api_key.refusal()
        if refusal:
            lockout.record_failure()
            raise exceptions.AuthenticationFailed(refusal)
        self._touch(api_key)
        return api_key.user, api_key

    def _touch(self, api_key):
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at >= TOUCH_EVERY:
            # Conditional, so concurrent requests with the same key write once.
            stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - TOUCH_EVERY)
            ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now)
            api_key.last_used_at = now

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return f'{self.keyword} realm="api"'
