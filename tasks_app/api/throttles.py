"""How often the API may be asked: DRF throttles per API key (or per user, for a session) and for anonymous
requests, and a lock-out of addresses that keep sending bad keys (unknown, revoked, expired, malformed).

The counts live in Django's cache (settings.CACHES). The default local-memory cache belongs to one process: the
threads of `serve` share it, but with several web processes each keeps its own counts (the limits multiply by the
number of processes) unless DJANGO_CACHE_BACKEND names a shared cache (the database, Redis, Memcached)."""
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework import throttling

from tasks_app.front.address import client_address


class _RateFromSettings:
    """Reads its rate from settings.API_THROTTLE_<SCOPE> on each request ("1200/min", or None for no limit), so
    a changed setting applies at once (DRF's own classes read theirs once, at import)."""

    def get_rate(self):
        return getattr(settings, f"API_THROTTLE_{self.scope.upper()}")

    def get_ident(self, request):
        return client_address(request)


class KeyThrottle(_RateFromSettings, throttling.SimpleRateThrottle):
    """Requests per API key (a session counts per user)."""

    scope = "key"

    def get_cache_key(self, request, view):
        key_id = getattr(request.auth, "pk", None)
        if key_id is not None:
            return self.cache_format % {"scope": self.scope, "ident": f"key-{key_id}"}
        if request.user and request.user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": f"user-{request.user.pk}"}
        return None  # anonymous: AnonThrottle


class AnonThrottle(_RateFromSettings, throttling.AnonRateThrottle):
    """Requests without credentials, per address. Checked by RolePermission when it refuses an anonymous request
    (DRF checks throttles only after permissions, so a default throttle would never see one)."""

    scope = "anon"


class BadKeyLockout:
    """API_KEY_FAILURE_LIMIT bad keys from one address within API_KEY_FAILURE_WINDOW seconds lock that address out
    of key authentication (429, even with a good key) for API_KEY_FAILURE_COOLOFF seconds."""

    def __init__(self, request):
        self.address = client_address(request)
        self.history_key = f"api-bad-keys:{self.address}"
        self.lock_key = f"api-bad-keys-lock:{self.address}"

    def retry_after(self) -> int:
        """Seconds until the lock-out ends; 0 when there is none."""
        until = cache.get(self.lock_key)
        return max(0, int(until - time.time()) + 1) if until else 0

    def record_failure(self) -> None:
        """Count one bad key from this address (one place where a later audit entry can hook in)."""
        now = time.time()
        window = settings.API_KEY_FAILURE_WINDOW
        history = [t for t in cache.get(self.history_key, []) if t > now - window] + [now]
        if len(history) >= settings.API_KEY_FAILURE_LIMIT:
            cooloff = settings.API_KEY_FAILURE_COOLOFF
            cache.set(self.lock_key, now + cooloff, cooloff)
            cache.delete(self.history_key)
        else:
            cache.set(self.history_key, history, window)
