"""The outbound guard for code that speaks HTTP through requests (Apprise's notification plugins): inside
`guarded()`, every requests session of the current thread connects only where tasks_app.outbound allows, to the
very address it checked (one lookup), with no proxy and no redirect; any other socket the thread connects or
sends to (SMTP, a raw socket) is checked by the same rule.

Apprise's plugins call requests.post() (a new Session each time), so there is no session to hand them. The seam
is requests.Session.get_adapter, wrapped once per process: outside guarded() the wrapper calls the original, so
other threads (web requests, any other library) see requests exactly as it is; inside, it returns the guard's
GuardedAdapter, whose connection pools open their sockets with outbound.connect. Which thread is inside is a
context variable, not a global switch. Sockets of other protocols are checked by an audit hook
(sys.addaudithook: socket.getaddrinfo, socket.connect, socket.sendto), which acts only inside guarded() too."""
import contextvars
import ipaddress
import socket
import sys
import threading
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from tasks_app import outbound

CONNECT_TIMEOUT = 10.0  # seconds, when the caller gave none
_current = contextvars.ContextVar("outbound_guard", default=None)
_install_lock = threading.Lock()
_original_get_adapter = None


class RedirectRefused(requests.exceptions.RequestException):
    """A 3xx answer inside guarded(): the send failed; where it pointed is neither asked nor logged."""


class Guard:
    """What happened on the wire during one guarded block, for an exact error message and for deciding whether
    trying again can help: the refusals, the answers' statuses, the connection errors."""

    def __init__(self):
        self.refused = []  # OutboundRefused, in order
        self.redirects = []  # (host, status)
        self.statuses = []  # (host, status) of every answer
        self.errors = []  # (host, text) of requests that got no answer
        self.looked_up = ""  # the last name this thread resolved (the audit hook's view)
        self.adapter = adapter_class()

    def problem(self) -> str:
        """The first thing that went wrong, in words (no URL: only hosts), or ""."""
        if self.refused:
            return f"refused: {self.refused[0]}"
        if self.redirects:
            host, status = self.redirects[0]
            return f"{host}: HTTP {status}, a redirect (not followed)"
        failed = [(host, status) for host, status in self.statuses if status >= 400]
        if failed:
            return f"{failed[-1][0]}: HTTP {failed[-1][1]}"
        if self.errors:
            return f"{self.errors[-1][0]}: {self.errors[-1][1]}"
        return ""

    def retryable(self) -> bool:
        """Whether trying again later can help: a server that did not answer, or answered 5xx, 408 or 429; not
        a refused address, a redirect or another 4xx."""
        if self.refused or self.redirects:
            return False
        failed = [status for _host, status in self.statuses if status >= 400]
        if failed:
            return failed[-1] >= 500 or failed[-1] in (408, 429)
        return True


def _connect_timeout(timeout):
    return timeout if isinstance(timeout, (int, float)) else CONNECT_TIMEOUT


class _Pinned:
    """urllib3's connection, opened by outbound.connect: the name resolved once, every address checked, the
    socket connected to a checked one. TLS (HTTPS) then checks the certificate against the URL's host name."""

    def _new_conn(self):
        guard = _current.get()
        try:
            sock = outbound.connect((self._dns_host, self.port), _connect_timeout(self.timeout), self.source_address)
        except outbound.OutboundRefused as exc:
            if guard is not None:
                guard.refused.append(exc)
            raise NewConnectionError(self, f"refused: {exc}") from None
        except socket.timeout as exc:
            raise ConnectTimeoutError(self, f"connection to {self.host} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"could not connect: {exc}") from exc
        for option in self.socket_options or ():
            sock.setsockopt(*option)
        return sock


class GuardedHTTPConnection(_Pinned, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Pinned, HTTPSConnection):
    pass


class GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """requests' adapter with pinned connections, no proxy (from the environment or given), and every 3xx
    answer a failure (RedirectRefused) instead of a hop."""

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise requests.exceptions.ProxyError("no proxy is used for notifications")

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        guard = _current.get()
        host = urlsplit(request.url).hostname or "(no host)"
        try:
            response = super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies={})
        except requests.RequestException as exc:
            if guard is not None and not guard.refused:
                guard.errors.append((host, _reason(exc)))
            raise
        if guard is not None:
            guard.statuses.append((host, response.status_code))
        if 300 <= response.status_code < 400:
            response.close()
            if guard is not None:
                guard.redirects.append((host, response.status_code))
            raise RedirectRefused(f"{host}: HTTP {response.status_code}, a redirect (not followed)")
        return response


adapter_class = GuardedAdapter  # the class each guarded block uses (a test may put a subclass here)


def _reason(exc) -> str:
    """The innermost reason of a requests error, without the URL (its path and query may hold a token)."""
    inner = exc
    while getattr(inner, "reason", None) is not None and inner.reason is not inner:
        inner = inner.reason
    while isinstance(inner, BaseException) and inner.args and isinstance(inner.args[0], BaseException):
        inner = inner.args[0]
    text = str(inner)
    if isinstance(inner, NewConnectionError) or "HTTPConnection" in text:
        text = text.split(": ", 1)[-1]
    return text.split(" (Caused by")[0]


def _get_adapter(session, url):
    guard = _current.get()
    if guard is None:
        return _original_get_adapter(session, url)
    if urlsplit(url).scheme.lower() not in outbound.DEFAULT_PORTS:
        raise requests.exceptions.InvalidSchema("only http and https URLs are allowed")
    return guard.adapter


class SocketRefused(ConnectionRefusedError):
    """The audit hook's refusal of a socket inside guarded(): an OSError, so a library handles it like any
    connection that could not be made."""


def _audit(event, args):
    if event not in ("socket.getaddrinfo", "socket.connect", "socket.sendto"):
        return
    guard = _current.get()
    if guard is None:
        return
    if event == "socket.getaddrinfo":
        if isinstance(args[0], str) and not _is_ip(args[0]):  # a literal (the checked address itself) is no name
            guard.looked_up = args[0]
        return
    address = args[1] if event == "socket.connect" else args[-1]
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        try:
            if outbound.address_allowed(address[0]) or outbound.name_allowed(guard.looked_up):
                return
        except ValueError:
            pass
        refusal = outbound.OutboundRefused(guard.looked_up or address[0],
                                           f"{address[0]} is not a public address (NOTIFY_ALLOW_PRIVATE_HOSTS can "
                                           f"allow an on-premise host or network)")
    else:
        refusal = outbound.OutboundRefused(str(address), "only network addresses may be reached")
    guard.refused.append(refusal)
    raise SocketRefused(str(refusal))


def _is_ip(text) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def install():
    """Wrap requests.Session.get_adapter and add the audit hook, once per process (both inert outside
    guarded())."""
    global _original_get_adapter
    with _install_lock:
        if _original_get_adapter is not None:
            return
        _original_get_adapter = requests.Session.get_adapter
        requests.Session.get_adapter = _get_adapter
        sys.addaudithook(_audit)


@contextmanager
def guarded():
    """Within the block, the current thread's HTTP requests (requests) and sockets go only where the outbound
    guard allows. Yields the Guard, which tells what happened."""
    install()
    guard = Guard()
    token = _current.set(guard)
    try:
        yield guard
    finally:
        _current.reset(token)
        guard.adapter.close()
