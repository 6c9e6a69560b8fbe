"""Login throttling for the pages and the admin, by django-axes: after LOGIN_FAILURE_LIMIT failed logins for one
user name from one address, that pair may not log in (even with the right password) for LOGIN_COOLOFF seconds;
the attempt is answered by the locked-out page (429). The failures are kept in the database (axes' AccessAttempt),
so every web process sees them. Django's user_login_failed and axes' user_locked_out signals are where an audit
entry can hook in."""
import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.shortcuts import render
from django.utils import timezone

from .address import client_address


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' check, for logins that come with a request (the login page, the admin). A login without one (a shell,
    the test client's login()) has no address to count: it is left to the next backend instead of refused."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def locked_out(request, original_response=None, credentials=None):
    """The answer to a login attempt while its user name and address are locked out (AXES_LOCKOUT_CALLABLE): the
    locked-out page, 429, with the time left in words and in Retry-After."""
    username = get_client_username(request, credentials) or ""
    attempt = (AccessAttempt.objects.filter(username=username, ip_address=client_address(request))
               .order_by("-attempt_time").first())
    cooloff = settings.AXES_COOLOFF_TIME
    left = (attempt.attempt_time + cooloff - timezone.now()) if attempt else cooloff
    seconds = max(1, math.ceil(left.total_seconds()))
    response = render(request, "registration/locked_out.html",
                      {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": math.ceil(seconds / 60)},
                      status=429)
    response["Retry-After"] = str(seconds)
    return response
