"""One message to one Apprise URL (a notification channel: DingTalk with its signing secret, WeCom, Feishu/Lark,
Slack, Teams, Telegram, Discord, e-mail, ntfy, JSON webhooks...), sent through the outbound guard
(tasks_app.outbound_requests), and what anyone may see of such a URL: its scheme and host, where the host is not
itself a token (dingtalk://<token> shows the service's host, oapi.dingtalk.com)."""
import logging
import threading
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from tasks_app import outbound_requests
from tasks_app.secrets.masking import Masker

# Plugins that act on this machine rather than over the network (a local log, a desktop, a USB light).
LOCAL_PLUGINS = frozenset({"syslog", "dbus", "glib", "gnome", "kde", "macosx", "windows", "blink1"})
SERVICE_URL_ATTRIBUTES = ("notify_url", "webhook_url", "api_url")
HIDDEN_HOST = "***"


class ChannelUrlError(ValueError):
    """An Apprise URL that cannot be used; the message names the scheme, never the URL."""


class SendError(Exception):
    """A message was not sent. `retryable`: whether trying again later can help (a server down or slow) or not
    (a refused address, a redirect, a rejected message)."""

    def __init__(self, message, retryable=False):
        super().__init__(message)
        self.retryable = retryable


@lru_cache(maxsize=1)
def _asset():
    import apprise  # here: loading its ~180 plugins takes a good part of a second, only where channels are used

    # Apprise's own redirect following off too (the guard refuses any 3xx anyway), and each plugin's send in the
    # calling thread, inside the guard.
    return apprise.AppriseAsset(async_mode=False, http_redirects=False, secure_logging=True)


def scheme_of(url: str) -> str:
    return (url.split("://", 1)[0] if "://" in url else "").lower()[:20]


def plugin_for(url: str):
    """The Apprise plugin instance of `url`; ChannelUrlError if Apprise does not understand it, or it is a plugin
    that acts on this machine."""
    import apprise

    scheme = scheme_of(url)
    if not scheme:
        raise ChannelUrlError("it is not a URL: an Apprise URL starts with its service, such as dingtalk:// or "
                              "mailto://")
    with _quiet_apprise():
        try:
            plugin = apprise.Apprise.instantiate(url, asset=_asset())
        except Exception:  # a plugin's own check (suppress_exceptions covers most)
            plugin = None
    if plugin is None:
        raise ChannelUrlError(f"Apprise does not understand this {scheme}:// URL (unknown service, or a part of it "
                              f"is missing or malformed)")
    if type(plugin).__module__.rsplit(".", 1)[-1] in LOCAL_PLUGINS:
        raise ChannelUrlError(f"{scheme}:// acts on the scheduler's own machine, not over the network")
    return plugin


def shown_url(url: str) -> str:
    """What every role sees of a channel's URL: scheme and host; a host that is a token is replaced by the
    service's own host, or by ***."""
    try:
        parts = urlsplit(url)
        plugin = plugin_for(url)
    except (ValueError, ChannelUrlError):
        return f"{scheme_of(url) or '?'}://{HIDDEN_HOST}"
    host = parts.hostname or ""
    if host and host in plugin.url(privacy=True):
        return f"{parts.scheme.lower()}://{host}"
    for attribute in SERVICE_URL_ATTRIBUTES:
        fixed = getattr(type(plugin), attribute, None)
        if isinstance(fixed, str) and fixed.startswith("http"):
            return f"{parts.scheme.lower()}://{urlsplit(fixed).hostname}"
    return f"{parts.scheme.lower()}://{HIDDEN_HOST}"


def service_name(url: str) -> str:
    """"DingTalk", "Slack", "E-Mail"... ("" if Apprise does not understand the URL)."""
    try:
        return str(plugin_for(url).service_name)
    except ChannelUrlError:
        return ""


def url_masker(url: str) -> Masker:
    """Masks the parts of a URL that may be tokens (its user, password, host, path parts and query values) in
    what Apprise or a server said, so no message or log line carries them."""
    try:
        parts = urlsplit(url)
        pieces = [parts.username, parts.password, parts.hostname, *parts.path.split("/"),
                  *(value for _key, value in parse_qsl(parts.query))]
    except ValueError:
        pieces = []
    keep = {"", scheme_of(url), shown_url(url).split("://", 1)[1]}
    return Masker([url] + [p for p in pieces if p and len(p) >= 4 and p not in keep])


class _ThreadRecords(logging.Handler):
    """Apprise's warnings of the current thread only (other threads may send at the same time)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.lines = []

    def emit(self, record):
        if record.thread == self.thread:
            self.lines.append(record.getMessage())


@contextmanager
def _apprise_warnings():
    handler = _ThreadRecords()
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


_quiet_threads = set()
_quiet_lock = threading.Lock()
_quiet_installed = False


def _not_quieted(record):
    return record.thread not in _quiet_threads


@contextmanager
def _quiet_apprise():
    """Apprise logs a URL it cannot parse at ERROR, the URL included: not from this thread, into any log."""
    global _quiet_installed
    with _quiet_lock:
        if not _quiet_installed:
            logging.getLogger("apprise").addFilter(_not_quieted)  # inert for threads not in _quiet_threads
            _quiet_installed = True
    _quiet_threads.add(threading.get_ident())
    try:
        yield
    finally:
        _quiet_threads.discard(threading.get_ident())


def send(url: str, title: str, body: str) -> None:
    """Send one message; SendError (its message masked, never the URL) if it was not sent."""
    try:
        plugin = plugin_for(url)
    except ChannelUrlError as exc:
        raise SendError(str(exc), retryable=False) from None
    masker = url_masker(url)
    with _apprise_warnings() as warnings, outbound_requests.guarded() as guard:
        try:
            ok = plugin.notify(title=title, body=body)
        except Exception as exc:  # a plugin's bug must be a failed notice, not a crash of the sender
            guard.errors.append((shown_url(url), f"{type(exc).__name__}: {exc}"))
            ok = False
    if ok:
        return
    said = "; ".join(dict.fromkeys(line.strip() for line in warnings if line.strip()))
    problem = guard.problem()
    message = f"{problem} ({said})" if problem and said else problem or said or "the service did not take the message"
    raise SendError(masker.text(message), retryable=guard.retryable())
