"""GET /metrics in the Prometheus text format (OpenMetrics when the scraper asks for it), for a scraper that sends
METRICS_TOKEN as a bearer token, or a logged-in user of any role. docs/metrics.md lists the metrics."""
import gzip
import hmac
import logging

from django.conf import settings
from django.db import Error as DatabaseError
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.views import View
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from tasks_app import roles
from tasks_app.front.address import client_address
from tasks_app.metrics.collector import SchedulerCollector

log = logging.getLogger("WebInterface")
REALM = 'Bearer realm="metrics"'


class MetricsView(View):
    http_method_names = ["get"]

    def get(self, request):
        refusal = refuse(request)
        if refusal is not None:
            return refusal
        registry = CollectorRegistry(auto_describe=False)  # no describe(): registering makes no query
        registry.register(SchedulerCollector())
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        try:
            body = encoder(registry)
        except DatabaseError as exc:
            log.error("/metrics: the database did not answer: %s", exc)
            return _plain(_("The database did not answer; try again later.") + "\n", 503)
        response = HttpResponse(content_type=content_type)
        response["Cache-Control"] = "no-store"
        response["Vary"] = "Accept-Encoding, Authorization, Cookie"
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            # Prometheus asks for gzip; with per-task labels an answer is megabytes of repetitive text (level 1:
            # a tenth of the size for a few milliseconds).
            body = gzip.compress(body, compresslevel=1)
            response["Content-Encoding"] = "gzip"
        response.content = body
        return response


def refuse(request) -> HttpResponse | None:
    """None when the request may read the metrics, else the answer: a bearer token must be METRICS_TOKEN (an
    explicit credential is judged even when a session comes with it); without one, the session's user needs a
    role. 401 tells a scraper what to send; 403 is a logged-in user without any role."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _space, token = header.partition(" ")
        expected = settings.METRICS_TOKEN
        if scheme.lower() == "bearer" and expected and hmac.compare_digest(token.strip().encode(), expected.encode()):
            return None
        log.warning("/metrics: a wrong or unexpected Authorization header from %s", client_address(request))
        answer = _plain(_("The token is not valid for /metrics.") + "\n", 401)
        answer["WWW-Authenticate"] = f'{REALM}, error="invalid_token"'
        return answer
    if request.user.is_authenticated:
        if roles.role_of(request.user) is not None:
            return None
        log.warning("%s (no role) refused GET /metrics", request.user.get_username())
        return _plain(_("Your account has no role: ask an administrator for one.") + "\n", 403)
    answer = _plain(_("Log in, or send the token of METRICS_TOKEN as Authorization: Bearer <token>.") + "\n", 401)
    answer["WWW-Authenticate"] = REALM
    return answer


def _plain(text, status):
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
