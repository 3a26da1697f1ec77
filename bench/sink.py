"""A fast loopback HTTP sink that answers like Meta's Conversions API (and, for the
google job, like the Data Manager API's ``events:ingest`` and Google's token endpoint).

It reads each body, counts the events in it without parsing JSON (every event
carries one ``"event_name"`` key, and the multipart form holds the JSON as it is),
and answers ``{"events_received": n}``. It keeps totals (requests, events, bytes)
and, when asked, copies of every ``keep_every``-th body with its Content-Type, so
the benchmark can check what went over the wire after the timed run.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MARK = b'"event_name"'
#: Google's Data Manager requests (``{"destinations": ...}``) carry one of these per event.
GOOGLE_MARK = b'"transactionId"'
TOKEN = json.dumps({"access_token": "bench-access-token", "expires_in": 3599,
                    "token_type": "Bearer"}).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: requests.Session reuses connections
    disable_nagle_algorithm = True  # headers and answer are two writes: no delayed-ACK stall
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path == "/token":  # the google destination's OAuth refresh
            self._answer(TOKEN)
            return
        if body.startswith(b'{"destinations"'):  # Google's events:ingest
            events = body.count(GOOGLE_MARK)
            self.server.sink.add(body, events, self.headers.get("Content-Type") or "")
            self._answer(json.dumps({"requestId": f"bench-{self.server.sink.requests}"})
                         .encode())
            return
        events = body.count(MARK)
        self.server.sink.add(body, events, self.headers.get("Content-Type") or "")
        self._answer(json.dumps({"events_received": events, "messages": [],
                                 "fbtrace_id": "bench"}).encode())

    def _answer(self, answer: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Silent: logging every request would cost more than handling it."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    sink: Sink


class Sink:
    """``with Sink() as sink: ... sink.url ... sink.totals()``.

    :param keep_every: keep a copy of every n-th body (0: keep none).
    """

    def __init__(self, keep_every: int = 0):
        self.keep_every = keep_every
        self._lock = threading.Lock()
        self.reset()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.sink = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self, keep_every: int | None = None) -> None:
        with self._lock:
            if keep_every is not None:
                self.keep_every = keep_every
            self.requests = 0
            self.events = 0
            self.bytes = 0
            self.kept: list[tuple[str, bytes]] = []

    def add(self, body: bytes, events: int, content_type: str = "") -> None:
        with self._lock:
            self.requests += 1
            self.events += events
            self.bytes += len(body)
            if self.keep_every and self.requests % self.keep_every == 0:
                self.kept.append((content_type, body))

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {"requests": self.requests, "events": self.events, "bytes": self.bytes}

    def __enter__(self) -> Sink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
