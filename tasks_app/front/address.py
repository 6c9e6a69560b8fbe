"""The client's address, one rule for the login throttling and the API's counts: REMOTE_ADDR, or behind
DJANGO_PROXY_COUNT trusted proxies the address the nearest of them saw (X-Forwarded-For, counted from the right,
as Django REST framework's NUM_PROXIES does). Without proxies X-Forwarded-For is ignored: a client could write
anything there to escape its count."""
from django.conf import settings


def client_address(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.DJANGO_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote
