"""A real HTTP receiver of webhooks on loopback that checks every signature it gets.

It runs ``http.server`` on a thread, on a fixed port so that a test can stop it (the
receiver is down: connections are refused) and start it again at the same address.
A request with a missing or wrong signature is answered 400 and recorded as refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.services import free_port

TOLERANCE_SECONDS = 300
"""How old a signed timestamp may be (the docs' advice against replays)."""


@dataclass
class Received:
    event_id: str
    event_type: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class WebhookReceiver:
    """Collects the verified events posted to ``url``; ``answer`` sets its HTTP status."""

    secret: str = ""
    answer: int = 204
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/console?shop=1"

    def verify(self, headers: dict[str, str], raw: bytes) -> bool:
        """The check docs/webhooks.md tells receivers to make: the signature over the
        timestamp and the raw body, and a timestamp within ``TOLERANCE_SECONDS``."""
        timestamp = headers.get("Console-Webhook-Timestamp", "")
        given = headers.get("Console-Webhook-Signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return False
        expected = hmac.new(
            self.secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(given, f"v1={expected}")

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's API
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name: value for name, value in self.headers.items()}
                if self.path != "/hooks/console?shop=1" or not receiver.verify(headers, raw):
                    receiver.refused.append(headers)
                    self.send_response(400)
                elif receiver.answer < 300:
                    body = json.loads(raw)
                    receiver.received.append(Received(body["id"], body["type"], body, headers))
                    self.send_response(receiver.answer)
                else:
                    self.send_response(receiver.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def types(self) -> list[str]:
        return [event.event_type for event in self.received]
