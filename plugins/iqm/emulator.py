"""A local emulator of the parts of IQM's API the ``iqm`` destination uses.

``offramp emulate iqm`` serves it; tests start it in-process. It follows
shared/reference/seed_apis.md, sections B and D.2:

* auth: ``POST /api/v3/ua/login`` (Basic client credentials, ``X-IAA-HOST``, JSON
  password grant, v3 envelope) and ``POST /api/v3/ua/oauth/token`` (form, password
  or refresh_token grant, unwrapped answer; a refresh invalidates the old token);
* every other ``/api`` route needs ``Authorization: Bearer <live token>`` (else
  401 "Invalid token") and ``X-IAA-OW-ID`` equal to the token's owId (else 403
  "Forbidden !");
* conversions: get (here), and in :mod:`plugins.iqm.emulator_conversions` list,
  ``pixel/add``, ``postback/add``, ``assign-to/campaign`` (POST, and PATCH for old
  clients; only draft campaigns of the workspace are valid), ``attached/campaigns/list``;
* ingestion (:mod:`plugins.iqm.emulator_pixel`): ``GET /i/pixel/<uuid>?cv=``, answered
  as the real pixel host would (no word on attribution; by default an empty script)
  and counted only as an unattributed fire, and ``POST /open?pid=&pixel_id=``;
* 20 requests a minute over the ``/api`` routes (429, ``Retry-After`` optional);
* faults: :meth:`expire_tokens`, :meth:`hold`, :meth:`set_campaign`,
  :meth:`throttle`, :meth:`server_error`, :meth:`pixel_outage` and the base
  class's :meth:`inject`; over HTTP, ``POST /__emulator__/expire-tokens``,
  ``/hold``, ``/campaigns`` and ``/faults``, and ``GET /__emulator__/state``.

Fixtures: client ``iqm-emulator-client`` / ``iqm-emulator-secret``, user
``analyst@example.com`` / ``emulator-password`` in workspace ``app.iqm.test``
(owId 200001), draft campaigns 1001-1003, running 2001, expired 2002.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector.kit import Emulator, Fault, Request, Response
from connector.kit.emulator import Connection
from plugins.iqm.emulator_auth import AuthRoutes, Issued, User, fail, ok
from plugins.iqm.emulator_checks import Invalid, StoredConversion
from plugins.iqm.emulator_conversions import ConversionRoutes
from plugins.iqm.emulator_pixel import PIXEL_ANSWERS, PixelRoutes

CONTROL = "/__emulator__"
_CONVERSION = re.compile(r"^/api/v3/conversion/(\d+)$")


@dataclass
class Campaign:
    id: int
    name: str
    status: str  # draft, running, paused, expired, ...
    ow_id: int


class IqmEmulator(AuthRoutes, ConversionRoutes, PixelRoutes, Emulator):
    """IQM's auth, conversion and pixel endpoints on 127.0.0.1."""

    name = "iqm"
    CLIENT_ID = "iqm-emulator-client"
    CLIENT_SECRET = "iqm-emulator-secret"
    EMAIL = "analyst@example.com"
    PASSWORD = "emulator-password"
    HOST = "app.iqm.test"
    OW_ID = 200001

    def __init__(self, *, port: int = 0, clock: Callable[[], float] = time.time,
                 token_ttl: float = 35999, rate_limit: int | None = 20,
                 retry_after: float | None = None, oauth_shape: str = "unwrapped",
                 rotate_refresh: bool = True, login_removed: bool = False,
                 pixel_answer: str = "javascript", repeat_collapse: bool = False,
                 campaigns: dict[int, str] | None = None):
        super().__init__(port=port, clock=clock)
        if oauth_shape not in ("unwrapped", "wrapped"):
            raise ValueError("oauth_shape must be 'unwrapped' or 'wrapped'")
        if pixel_answer not in PIXEL_ANSWERS:
            raise ValueError(f"pixel_answer must be one of {', '.join(PIXEL_ANSWERS)}")
        self.token_ttl = token_ttl
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        self.oauth_shape = oauth_shape
        self.rotate_refresh = rotate_refresh
        self.login_removed = login_removed
        self.pixel_answer = pixel_answer
        self.repeat_collapse = repeat_collapse
        self.clients = {self.CLIENT_ID: self.CLIENT_SECRET}
        self.users = {self.EMAIL: User(self.EMAIL, self.PASSWORD, self.HOST, self.OW_ID, 108658)}
        statuses = campaigns if campaigns is not None else {
            1001: "draft", 1002: "draft", 1003: "draft", 2001: "running", 2002: "expired"}
        self.campaigns = {cid: Campaign(cid, f"Campaign {cid}", status, self.OW_ID)
                          for cid, status in statuses.items()}
        self.conversions: dict[int, StoredConversion] = {}
        self.tokens: dict[str, Issued] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh -> access
        self.pixel_hits: list[dict[str, Any]] = []
        self.open_events: list[dict[str, Any]] = []
        self.logins = 0
        self.refreshes = 0
        self._window: deque[float] = deque()
        self._next_id = 3213
        self._pixel_outage: tuple[int, int, int] | None = None
        self._last_counted: dict[int, float] = {}  # conversion id -> when a fire last counted

    def start(self) -> IqmEmulator:
        """Start serving, with Nagle's algorithm off: the base handler writes headers and
        body separately, and Nagle plus delayed ACKs would stall small answers."""
        super().start()
        assert self._server is not None
        self._server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        return self

    def stop(self) -> None:
        """Stop the server without waiting out its poll interval: the base's shutdown()
        blocks until the serving loop wakes, so connect until it has."""
        server = self._server
        if server is None:
            return
        host, port = server.server_address[:2]
        address = (str(host), port)  # the base binds 127.0.0.1: the host is a str already
        stopper = threading.Thread(target=super().stop, name="emulator-iqm-stop")
        stopper.start()
        while stopper.is_alive():
            try:
                socket.create_connection(address, timeout=0.05).close()
            except OSError:
                pass
            stopper.join(0.005)

    # -- faults and fixtures ---------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Make every access token issued so far expired (the next call gets 401)."""
        with self.lock:
            now = self.clock()
            for issued in self.tokens.values():
                issued.expires_at = min(issued.expires_at, now)

    def hold(self, email: str = EMAIL, on: bool = True) -> None:
        """Put a user's account on hold: login and refresh answer the documented 400."""
        with self.lock:
            self.users[email].on_hold = on

    def set_campaign(self, campaign_id: int, status: str, ow_id: int | None = None) -> None:
        with self.lock:
            self.campaigns[campaign_id] = Campaign(campaign_id, f"Campaign {campaign_id}",
                                                   status, ow_id or self.OW_ID)

    def throttle(self, times: int = 1, retry_after: float | None = None,
                 path: str = "/api/") -> Fault:
        """The next ``times`` requests under ``path`` get 429."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        return self.inject(status=429, headers=headers, times=times, path=path,
                           body={"success": False,
                                 "errorObjects": [{"error": "Too many requests"}]})

    def server_error(self, status: int = 500, times: int = 1, path: str = "/api/") -> Fault:
        """The next ``times`` requests under ``path`` get IQM's 5xx answer."""
        return self.inject(status=status, times=times, path=path, body={
            "success": False, "errorObjects": [{"error": "server encountered an error !"}]})

    def pixel_outage(self, after: int, status: int = 503, times: int = 1) -> None:
        """Once ``after`` pixel hits are recorded, the next ``times`` fires get ``status``
        (a batch that fails half way)."""
        with self.lock:
            self._pixel_outage = (after, status, times)

    def conversion_named(self, name: str) -> list[StoredConversion]:
        with self.lock:
            return [c for c in self.conversions.values() if c.name == name]

    def connection(self) -> Connection:
        """The emulator's client and user, and its URL for the API and the pixel."""
        return Connection(env={"IQM_CLIENT_ID": self.CLIENT_ID,
                               "IQM_CLIENT_SECRET": self.CLIENT_SECRET,
                               "IQM_USERNAME": self.EMAIL, "IQM_PASSWORD": self.PASSWORD},
                          settings={"base_url": self.url, "pixel_base_url": self.url})

    def snapshot(self) -> dict[str, Any]:
        return {
            "conversions": [dict(c.listed(self.url), campaigns=sorted(c.campaigns))
                            for c in self.conversions.values()],
            "campaigns": {str(c.id): c.status for c in self.campaigns.values()},
            "pixel_hits": list(self.pixel_hits), "open_events": list(self.open_events),
            "logins": self.logins, "refreshes": self.refreshes,
        }

    def control(self, request: Request) -> Response | None:
        """IQM-specific faults for other processes: ``POST /__emulator__/expire-tokens``,
        ``/hold`` (``{"email", "on"}``) and ``/campaigns`` (``{"id", "status", "owId"}``)."""
        body = request.json() if request.body else {}
        if request.path == f"{CONTROL}/expire-tokens" and request.method == "POST":
            self.expire_tokens()
            return Response(200, {"expired": True})
        if request.path == f"{CONTROL}/hold" and request.method == "POST":
            self.hold(body.get("email", self.EMAIL), bool(body.get("on", True)))
            return Response(200, {"hold": bool(body.get("on", True))})
        if request.path == f"{CONTROL}/campaigns" and request.method == "POST":
            self.set_campaign(int(body["id"]), str(body["status"]), body.get("owId"))
            return Response(200, {"id": int(body["id"]), "status": body["status"]})
        return None

    # -- dispatch ---------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/i/pixel/") and request.method == "GET":
            return self._pixel(request)
        if path == "/open" and request.method in ("POST", "DELETE"):
            return self._open(request)
        if not path.startswith("/api/"):
            return Response(404, "not found")
        limited = self._rate_limited()
        if limited is not None:
            return limited
        if path == "/api/v3/ua/login":
            return self._login(request) if request.method == "POST" else fail(405, "Not allowed")
        if path == "/api/v3/ua/oauth/token":
            return self._token(request) if request.method == "POST" else fail(405, "Not allowed")
        if path == "/api/v3/ua/user/ow-id":
            return self._ow_id(request) if request.method == "GET" else fail(405, "Not allowed")
        issued = self._authenticate(request)
        if isinstance(issued, Response):
            return issued
        try:
            return self._route(request, issued)
        except Invalid as exc:
            return fail(422, exc.error, field=exc.field)

    def _route(self, request: Request, issued: Issued) -> Response:
        path, method = request.path, request.method
        if path == "/api/v3/ua/logout" and method == "POST":
            self.tokens = {k: v for k, v in self.tokens.items() if v is not issued}
            return ok("User logged out successfully.")
        if path == "/api/v3/conversion/list" and method == "GET":
            return self._list(request, issued)
        if path == "/api/v3/conversion/attached/campaigns/list" and method == "GET":
            return self._attached(request, issued)
        if path in ("/api/v3/conversion/pixel/add", "/api/v3/conversion/postback/add"):
            if method != "POST":
                return fail(405, "Method not allowed")
            return self._add(request, issued, pixel=path.endswith("/pixel/add"))
        if path == "/api/v3/conversion/assign-to/campaign":
            if method not in ("POST", "PATCH"):
                return fail(405, "Method not allowed")
            return self._assign(request, issued)
        match = _CONVERSION.match(path)
        if match and method == "GET":
            conversion = self.conversions.get(int(match.group(1)))
            if conversion is None or conversion.ow_id != issued.ow_id:
                return fail(404, "Conversion not found")
            return ok(conversion.details(self.url))
        return fail(404, "Not found")

    def _rate_limited(self) -> Response | None:
        if self.rate_limit is None:
            return None
        now = self.clock()
        while self._window and self._window[0] <= now - 60.0:
            self._window.popleft()
        if len(self._window) >= self.rate_limit:
            headers = {}
            if self.retry_after is not None:
                headers["Retry-After"] = f"{self.retry_after:g}"
            response = fail(429, "Too many requests",
                            reason="The limit is 20 requests per minute.")
            response.headers.update(headers)
            return response
        self._window.append(now)
        return None
