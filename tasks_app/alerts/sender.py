"""Where notices are sent from: a small pool of threads of its own in whichever process queued them (the
scheduler, or a web process's watchdog), never the scheduler's loop thread, so a slow or failing service delays
no run. After each round it sleeps until the next notice is due (a retry after NOTIFY_RETRY_DELAYS) and sends
it then; a notice left by a process that stopped is sent by the next round of any process."""
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections
from django.utils import timezone

from . import outbox

log = logging.getLogger("TaskExecutor")

_lock = threading.Lock()
_pool = None
_timer = None
_timer_at = None


def pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="notify")
        return _pool


def submit(function, *args):
    """Run `function(*args)` in the pool, then send what is due; returns the Future. Never raises from the
    pool: a failure is logged."""
    return pool().submit(_guarded, function, *args)


def submit_then_send_if_queued(function, *args):
    """As submit, but the round of sending follows only when `function` returns true (it may have queued a
    notice): the ends of runs that alert nobody cost no query of the outbox."""
    return pool().submit(_guarded, function, *args, only_if_queued=True)


def kick():
    """Send the notices that are due now, in the pool."""
    return pool().submit(_guarded, None)


def _guarded(function, *args, only_if_queued=False):
    close_old_connections()
    try:
        if function is not None:
            queued = function(*args)
            if only_if_queued and not queued:
                return
        outbox.send_due()
        _wake_for(outbox.next_due())
    except Exception:
        log.exception("Sending notices failed; carrying on")
    finally:
        close_old_connections()


def _wake_for(moment):
    """Be woken when the next notice is due (one timer: the earliest wins)."""
    global _timer, _timer_at
    if moment is None:
        return
    with _lock:
        if _timer is not None and _timer_at is not None and _timer_at <= moment and _timer.is_alive():
            return
        if _timer is not None:
            _timer.cancel()
        delay = max(0.0, (moment - timezone.now()).total_seconds())
        _timer, _timer_at = threading.Timer(delay, kick), moment
        _timer.daemon = True
        _timer.start()


def wait_idle(timeout=10.0):
    """Wait until the work queued so far has run (tests, and a process that is about to stop)."""
    pool().submit(lambda: None).result(timeout)
    pool().submit(lambda: None).result(timeout)
