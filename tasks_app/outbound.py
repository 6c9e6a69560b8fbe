"""Where notifications may connect: the webhook and every other request a notifier sends goes only to globally
routable addresses, unless NOTIFY_ALLOW_PRIVATE_HOSTS names the host or its network (on-premise targets).

A URL is checked when a task is saved (`check_url`) and again when sending (`urlopen`), where the connection goes
to the very address that was checked: the name is resolved once, inside the connection, so a DNS answer that
changes between a check and a connect (DNS rebinding) cannot reach another address. The Host header and the TLS
name check still use the URL's host name. Redirects are never followed, and no proxy from the environment is used.
"""
import http.client
import ipaddress
import socket
import threading
import urllib.error
from contextlib import contextmanager
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443}
# IPv6 ranges that carry an IPv4 address in their last 32 bits (NAT64, IPv4-compatible): checked as that address.
_IPV4_INSIDE = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("::/96"))


class OutboundRefused(Exception):
    """A notification may not go to `host`; `reason` says which address was refused and why."""

    def __init__(self, host, reason):
        super().__init__(f"{host}: {reason}")
        self.host, self.reason = host, reason


def _allow_list():
    names, networks = set(), []
    for entry in settings.NOTIFY_ALLOW_PRIVATE_HOSTS:
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.lower().rstrip("."))
    return names, networks


def _as_checked(address):
    """The IPv4 address an IPv6 one stands for (IPv4-mapped, 6to4, NAT64), else the address itself."""
    if address.version == 6:
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.sixtofour:
            return address.sixtofour
        if any(address in network for network in _IPV4_INSIDE):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def address_allowed(address: str) -> bool:
    """Whether a notification may connect to this IP address (globally routable, or allowed by the setting)."""
    raw = ipaddress.ip_address(address.split("%", 1)[0])  # a zone (fe80::1%eth0) is not part of the address
    ip = _as_checked(raw)
    if ip.is_global and not ip.is_multicast:
        return True
    return any(ip in network or raw in network for network in _allow_list()[1])


def name_allowed(host: str) -> bool:
    """Whether NOTIFY_ALLOW_PRIVATE_HOSTS names this host (then whatever it resolves to may be reached)."""
    return bool(host) and host.lower().rstrip(".") in _allow_list()[0]


def resolve(host: str, port: int) -> list:
    """The addresses `host` names, in the resolver's order, each once (an IP literal is itself)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    found = []
    for *_rest, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if sockaddr[0] not in found:
            found.append(sockaddr[0])
    return found


def checked_addresses(host: str, port: int) -> list:
    """The addresses a notification to `host` may connect to: all of those it resolves to, or OutboundRefused if
    any of them is not allowed. Raises socket.gaierror when the name does not resolve."""
    if not host:
        raise OutboundRefused("(no host)", "the URL names no host")
    addresses = resolve(host, port)
    if name_allowed(host):
        return addresses
    for address in addresses:
        if not address_allowed(address):
            shown = address if address == host.strip("[]") else f"resolves to {address}, which"
            raise OutboundRefused(host, f"{shown} is not a public address (NOTIFY_ALLOW_PRIVATE_HOSTS can allow "
                                        f"an on-premise host or network)")
    return addresses


def check_url(url: str) -> None:
    """When a task is saved: raises OutboundRefused if the URL's host is, or resolves to, a refused address.
    A name that does not resolve now is let through: it is checked again, and refused then, when sending."""
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    except ValueError:
        raise OutboundRefused(parts.netloc, "the port is not a number from 0 to 65535") from None
    try:
        checked_addresses(parts.hostname or "", port)
    except (socket.gaierror, UnicodeError):
        pass


_opened = threading.local()


@contextmanager
def opened_sockets():
    """A list of duplicates of the sockets `connect` opens in this thread inside the block: another thread may shut
    them down to end a request whose server trickles its answer (a per-read timeout never fires then). Duplicates:
    TLS detaches the socket `connect` made, and a shutdown through the duplicate still ends the connection."""
    previous = getattr(_opened, "sockets", None)
    _opened.sockets = []
    try:
        yield _opened.sockets
    finally:
        for duplicate in _opened.sockets:
            duplicate.close()
        _opened.sockets = previous


def connect(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, *args, **kwargs):
    """socket.create_connection that resolves the name once, checks every address, then connects to them (the
    one way a notification opens a connection: urllib here, requests through tasks_app.outbound_requests)."""
    host, port = address
    error = None
    for checked in checked_addresses(host, port):
        try:
            sock = socket.create_connection((checked, port), timeout, source_address)
        except OSError as exc:
            error = exc
            continue
        if getattr(_opened, "sockets", None) is not None:
            _opened.sockets.append(sock.dup())
        return sock
    raise error or OSError(f"{host}: no address to connect to")


class GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = connect


class GuardedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the checked address; TLS then checks the certificate against the URL's host name (SNI too)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = connect


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(GuardedHTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(GuardedHTTPSConnection, req, context=self._context)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is answered as an HTTPError with its code: the notice failed; its target is not asked."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener():
    # Built by hand, not with build_opener(): only http and https, and no ProxyHandler (a proxy from the
    # environment would be connected to instead of the checked address).
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.UnknownHandler(), urllib.request.HTTPDefaultErrorHandler(), _NoRedirects(),
                    urllib.request.HTTPErrorProcessor(), _HTTPHandler(), _HTTPSHandler()):
        opener.add_handler(handler)
    return opener


def urlopen(request, timeout):
    """urllib.request.urlopen for notifications: guarded addresses, no redirects, no proxies.

    Raises OutboundRefused for a refused address, urllib.error.HTTPError for any status of 300 or more (3xx
    included), urllib.error.URLError or OSError when no connection could be made."""
    url = request.full_url if isinstance(request, urllib.request.Request) else request
    if urlsplit(url).scheme not in DEFAULT_PORTS:
        raise OutboundRefused(urlsplit(url).netloc or url, "only http and https URLs are allowed")
    try:
        return _opener().open(request, timeout=timeout)
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, OutboundRefused):
            raise exc.reason from None
        raise
