"""/healthz and /healthz/scheduler: for load balancers and Kubernetes probes. No login, no secrets (a reason in
words, never an exception's text, which may name hosts and users), never cached, and exempt from the HTTPS
redirect (settings.SECURE_REDIRECT_EXEMPT): probes speak plain HTTP to the node."""
import logging

from django.db import Error as DatabaseError
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from tasks_app.models import SchedulerLease

log = logging.getLogger("WebInterface")


def _answer(ok: bool, **body):
    return JsonResponse({"status": "ok" if ok else "unavailable", **body}, status=200 if ok else 503)


def _database_reachable() -> str | None:
    """None if the database answers, else the reason in words (the details go to the log only)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        log.warning("Health check: the database cannot be reached: %s", exc)
        return f"the database cannot be reached ({type(exc).__name__})"
    return None


# csrf_exempt: a POST gets a plain 405 from require_safe, not a CSRF page.
@csrf_exempt
@never_cache
@require_safe
def healthz(request):
    """This web process answers and its database is reachable."""
    problem = _database_reachable()
    return _answer(problem is None, **({"reason": problem} if problem else {}))


@csrf_exempt
@never_cache
@require_safe
def healthz_scheduler(request):
    """A scheduler leads: its heartbeat (the lease it renews every SCHEDULER_HEARTBEAT_SECONDS) is newer than
    three heartbeats, by the database's clock."""
    problem = _database_reachable()
    if problem:
        return _answer(False, reason=problem)
    try:
        lease = SchedulerLease.objects.current()
    except DatabaseError as exc:
        log.warning("Health check: the scheduler's lease cannot be read: %s", exc)
        return _answer(False, reason=f"the scheduler's lease cannot be read ({type(exc).__name__})")
    if lease is None or not lease.holder:
        return _answer(False, reason="no scheduler has ever run on this database")
    age = round(lease.heartbeat_age(), 1)
    if lease.alive():
        return _answer(True, last_heartbeat=lease.renewed_at.isoformat(), heartbeat_age_seconds=age)
    reason = "the scheduler stopped" if lease.released_at is not None else "no heartbeat from the scheduler"
    return _answer(False, reason=f"{reason}: none leads since {lease.renewed_at.isoformat()}",
                   last_heartbeat=lease.renewed_at.isoformat(), heartbeat_age_seconds=age)
