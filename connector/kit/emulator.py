"""A base for local API emulators: real HTTP servers on 127.0.0.1.

Each API plugin ships a subclass that validates requests the way the real API
does. The base gives every emulator the same tools:

* a threaded HTTP server on a free loopback port (``with MyEmulator() as emu:``);
* a log of every request (:attr:`Emulator.calls`), secrets included only as
  received, for tests to inspect;
* fault injection (:meth:`Emulator.inject`): a status and body, ``Retry-After``,
  a delay that outlasts the client's timeout, or a dropped connection, for the
  next N matching requests;
* a control API under ``/__emulator__/`` so that an emulator started by
  ``offramp emulate`` in another process can be given faults and inspected.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit

CONTROL = "/__emulator__"


@dataclass
class Request:
    """One request as the emulator received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """The body's form fields (the first value of each name), as the Content-Type
        says: ``multipart/form-data`` or else ``application/x-www-form-urlencoded``.

        :raises ValueError: a multipart body without its boundary, with a missing or
            unclosed boundary, or with a part that is not a named form field.
        """
        return form_fields(self.body, self.header("content-type") or "")


def form_fields(body: bytes, content_type: str) -> dict[str, str]:
    """A form body's fields (see :meth:`Request.form`). A ``multipart/form-data`` body
    is read with the standard library's MIME parser, and anything it flags as a defect
    is refused, as a server would."""
    if not content_type.lower().startswith("multipart/form-data"):
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not message.is_multipart() or message.defects:
        found = ", ".join(type(d).__name__ for d in message.defects) or "no parts"
        raise ValueError(f"malformed multipart/form-data body ({found})")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_content_disposition() != "form-data" or not isinstance(name, str):
            raise ValueError("a multipart/form-data part is not a named form field")
        value = part.get_payload(decode=True)
        fields.setdefault(name, value.decode("utf-8") if isinstance(value, bytes) else "")
    return fields


@dataclass
class Response:
    """What a handler answers. ``body`` may be bytes, text or a JSON-able value."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("Content-Type", "application/octet-stream")
        if isinstance(self.body, str):
            return self.body.encode(), self.headers.get("Content-Type", "text/plain; charset=utf-8")
        return json.dumps(self.body).encode(), "application/json"


@dataclass
class Connection:
    """What points a job at an emulator: the environment variables to export (the test
    credentials it accepts) and the settings to write (its URL), with where they go.

    :param env: variable -> value, for ``export`` lines.
    :param settings: setting -> value, for the job's header (or ``offramp.toml``).
    :param place: where the settings go, e.g. ``"the job's [settings]"``.
    """

    env: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    place: str = "the job's [settings]"


@dataclass
class Fault:
    """A failure to serve instead of the normal answer.

    :param status: HTTP status to answer with (ignored when ``drop``).
    :param body: the body (JSON-able, text or bytes).
    :param headers: extra headers, e.g. ``{"Retry-After": "2"}``.
    :param delay: seconds to wait before answering (longer than the client's
        timeout makes a timeout).
    :param drop: close the connection without answering.
    :param times: how many matching requests get this fault.
    :param path: only requests whose path starts with this get it.
    """

    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    times: int = 1
    path: str = ""


class Emulator:
    """Subclass and implement :meth:`handle`. Keep mutable state under ``self.lock``
    (the base already holds it while :meth:`handle` runs)."""

    #: The API this emulates (``offramp emulate NAME``).
    name: ClassVar[str] = ""

    def __init__(self, *, port: int = 0, clock: Callable[[], float] = time.time):
        self.port = port
        self.clock = clock
        self.lock = threading.RLock()
        self.calls: list[Request] = []
        self._faults: list[Fault] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "the emulator is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        server = _QuietServer(("127.0.0.1", self.port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"emulator-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve_forever(self) -> None:
        """Run in the foreground until interrupted (for ``offramp emulate``)."""
        if self._server is None:
            self.start()
        try:
            while True:
                time.sleep(3600)
        finally:
            self.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults --------------------------------------------------------------------------
    def inject(self, fault: Fault | None = None, **kwargs: Any) -> Fault:
        """Queue a fault for the next matching request(s); see :class:`Fault`."""
        fault = fault or Fault(**kwargs)
        with self.lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- to implement ----------------------------------------------------------------------
    def handle(self, request: Request) -> Response | None:
        """Answer one API request, or return None to drop the connection without an
        answer (a response lost on the way back). Called with ``self.lock`` held."""
        raise NotImplementedError

    def control(self, request: Request) -> Response | None:
        """Extra control routes under ``/__emulator__/`` (None: not one of yours).
        Override to let other processes drive emulator-specific faults."""
        return None

    def snapshot(self) -> dict[str, Any]:
        """What the emulator has accepted, as JSON (served at ``/__emulator__/state``)."""
        return {}

    def connection(self) -> Connection:
        """How to point a job at this running emulator (``offramp emulate`` prints it):
        override to give the test credentials it accepts and the settings naming its
        URL."""
        return Connection()

    # -- dispatch ------------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        extra = self.control(request)
        if extra is not None:
            return extra
        if request.path == f"{CONTROL}/faults" and request.method == "POST":
            fault = self.inject(Fault(**request.json()))
            return Response(200, asdict(fault))
        if request.path == f"{CONTROL}/state":
            with self.lock:
                return Response(200, self.snapshot())
        return Response(404, {"error": "unknown control path"})

    def _dispatch(self, request: Request) -> Response | None:
        if request.path.startswith(CONTROL):
            return self._control(request)
        with self.lock:
            self.calls.append(request)
        fault = self._take_fault(request.path)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                return None
            return Response(fault.status, fault.body, dict(fault.headers))
        with self.lock:
            return self.handle(request)


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up (timeouts, dropped connections) are normal here, not errors."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                response = emulator._dispatch(request)
            except Exception as exc:  # an emulator bug must show, not hang the client
                response = Response(500, {"emulator_error": repr(exc)})
            if response is None:
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            data, content_type = response.encode()
            self.send_response(response.status)
            headers = {"Content-Type": content_type, **response.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler
