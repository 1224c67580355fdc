"""A local webhook receiver for the demo's alerts: apprise's `json://` posts land here.

`dfwatch demo` points DFWATCH_ALERT_URLS at `json://127.0.0.1:PORT/dfwatch-demo`; every
crawl's alerts are POSTed as apprise's JSON ({"version", "title", "message", "type", ...})
and kept in order, so the demo can show what a researcher's phone would have received.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from crawler.sim.httpserver import LocalHTTPServer

MAX_BODY = 1_000_000  # bytes of one notification accepted


class AlertReceiver:
    """Threaded HTTP server on 127.0.0.1 that records JSON notifications."""

    def __init__(self, path: str = "dfwatch-demo") -> None:
        self.path = path
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                try:
                    message = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.messages.append(message if isinstance(message, dict) else {"message": message})
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the demo prints messages
                pass

        self._server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="alert-receiver", daemon=True)

    @property
    def url(self) -> str:
        """The apprise URL that delivers here."""
        return f"json://127.0.0.1:{self._server.server_address[1]}/{self.path}"

    def take(self) -> list[dict[str, Any]]:
        """The messages received since the last call."""
        with self._lock:
            out, self.messages = self.messages, []
        return out

    def __enter__(self) -> AlertReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
