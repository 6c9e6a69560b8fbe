"""A real local HTTP server standing in for DingTalk, WeCom, Feishu, Slack and the other services, and the
test-only transport that sends the real Apprise plugins' requests to it: the plugin builds its request for its
own fixed host (https://oapi.dingtalk.com/...), and the adapter below hands it to the stand-in over plain HTTP on
127.0.0.1, with the Host header the service would have seen. The connection still goes through the outbound
guard, which lets it reach 127.0.0.1 only because the test allows that address (NOTIFY_ALLOW_PRIVATE_HOSTS)."""
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, urlunsplit

from tasks_app import outbound_requests


@dataclass
class Received:
    method: str
    host: str  # the Host header: the service the plugin meant
    path: str
    query: dict
    headers: dict
    body: bytes = b""
    _json: object = field(default=None, repr=False)

    def json(self):
        return json.loads(self.body)


class StandIn:
    """Records each request; answers `status` (and `body`), with `location` a redirect there."""

    def __init__(self):
        self.received = []
        self.status, self.body, self.location = 200, b'{"errcode": 0, "ok": true}', None
        self.answers = []  # statuses for the next requests, before `status` applies again
        # What a service says when it took a message, where its plugin reads the answer (Slack's webhooks: "ok").
        self.bodies = {"hooks.slack.com": b"ok"}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                stand_in.received.append(Received(self.command, self.headers.get("Host", ""), parts.path,
                                                  parse_qs(parts.query), dict(self.headers),
                                                  self.rfile.read(length)))
                status = stand_in.answers.pop(0) if stand_in.answers else stand_in.status
                self.send_response(status)
                if stand_in.location:
                    self.send_header("Location", stand_in.location)
                body = stand_in.bodies.get(self.headers.get("Host", "").split(":")[0], stand_in.body)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def adapter_for(stand_in):
    """A GuardedAdapter that sends every request to the stand-in, keeping its Host header."""

    class StandInAdapter(outbound_requests.GuardedAdapter):
        def send(self, request, **kwargs):
            parts = urlsplit(request.url)
            request.headers["Host"] = parts.netloc
            request.url = urlunsplit(("http", f"127.0.0.1:{stand_in.port}", parts.path, parts.query, ""))
            return super().send(request, **kwargs)

    return StandInAdapter
