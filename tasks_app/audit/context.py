"""Where a change comes from, for its audit entry: the request being served (its user, the API key it came with, the
client's address by the rule of front/address.py), held for the length of the request by a middleware. The
services know only `actor` and `via`, and the signals of logins and users only the request they are given: both
find the rest here, so no view passes it on. Outside a request (a command, the scheduler) there is none."""
import ipaddress
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from tasks_app.front.address import client_address

_request = ContextVar("audit_request", default=None)


@dataclass(frozen=True)
class Origin:
    user: object = None  # the authenticated user, or None
    address: str | None = None  # the client's IP address, or None when there is no valid one
    key: str | None = None  # the API key the request came with: its name and prefix
    cid: str | None = None  # one id shared by every entry one request makes


NOWHERE = Origin()


class AuditContextMiddleware:
    """Keeps the request at hand for the audit entries it causes (place it after AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.audit_cid = uuid.uuid4().hex
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def origin_of(request) -> Origin:
    """The origin of a request. Read when an entry is written, not when the request starts: an API request's user
    and key are known only once Django REST framework has authenticated it (it sets them on the request)."""
    if request is None:
        return NOWHERE
    user = getattr(request, "user", None)
    user = user if user is not None and user.is_authenticated else None
    api_key = getattr(request, "auth", None)
    key = None
    if getattr(api_key, "prefix", None):
        key = f"{api_key.name} ({api_key.prefix}…)" if api_key.name else f"{api_key.prefix}…"
    return Origin(user=user, address=valid_address(client_address(request)), key=key,
                  cid=getattr(request, "audit_cid", None))


def current_origin() -> Origin:
    return origin_of(_request.get())


def valid_address(text) -> str | None:
    """An IP address as the database stores it, or None (a proxy may forward anything)."""
    try:
        return str(ipaddress.ip_address((text or "").strip()))
    except ValueError:
        return None
