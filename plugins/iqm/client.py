"""An IQM REST client: login, token refresh, and calls with IQM's headers.

* Login ([IQM-DOCS] user-api.mdx, seed 003): ``POST /api/v3/ua/login`` with
  ``Authorization: Basic base64(client_id:client_secret)``, ``X-IAA-HOST`` and
  ``{"grantType": "password", "email", "password"}``. With ``auth = "oauth"``:
  ``POST /api/v3/ua/oauth/token`` with a form body
  (``grant_type=password&username&password``).
* IQM documents two shapes of the token answer: wrapped, ``{"success": true,
  "data": {access_token, refresh_token, expires_in, owId, ...}}`` (the login, and
  the authentication quickstart's OAuth sample), and unwrapped without ``owId``
  (the user API page's OAuth and refresh samples). Both are read, from either
  endpoint. The workspace id comes from the answer's ``owId``, else the ``ow_id``
  setting, else the token before a refresh, else ``GET /api/v3/ua/user/ow-id``.
* Refresh: ``POST /api/v3/ua/oauth/token`` with ``grant_type=refresh_token``. The
  docs do not say whether IQM rotates the refresh token: the answer's
  ``refresh_token`` is kept when it has one, the old one otherwise. When IQM refuses
  the refresh token, a fresh login.
* Every other call sends ``Authorization: Bearer <token>`` and ``X-IAA-OW-ID``.
  The token is refreshed shortly before ``expires_in`` runs out, and on a 401 it
  is refreshed and the call retried once; a second 401 is :class:`~connector.Fatal`.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from connector.kit import Fatal
from connector.kit.http import send
from connector.kit.secrets import Secret, redact
from plugins.iqm.errors import Refused, body_of, classify, data_of, on_hold
from plugins.iqm.ratelimit import RequestWindow
from plugins.iqm.settings import IqmSettings

log = logging.getLogger("offramp.iqm")

LOGIN = "/api/v3/ua/login"
TOKEN = "/api/v3/ua/oauth/token"
OW_ID = "/api/v3/ua/user/ow-id"
#: Refresh this many seconds before the token's announced expiry.
EXPIRY_MARGIN = 60.0


@dataclass(frozen=True)
class Credentials:
    """The four secrets a login needs, each read from its environment variable."""

    client_id: Secret
    client_secret: Secret
    username: Secret
    password: Secret

    def basic(self) -> str:
        raw = f"{self.client_id.reveal()}:{self.client_secret.reveal()}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclass
class Token:
    access: Secret
    refresh: Secret | None
    expires_at: float
    ow_id: int
    generation: int


class IqmClient:
    """Talks to IQM's REST API for one run; safe to share between threads."""

    def __init__(self, http: requests.Session, settings: IqmSettings, credentials: Credentials,
                 *, timeout: float, clock: Callable[[], float] = time.time,
                 window: RequestWindow | None = None):
        self.http = http
        self.settings = settings
        self.credentials = credentials
        self.timeout = timeout
        self.clock = clock
        self.window = window or RequestWindow(settings.requests_per_minute)
        self.token: Token | None = None
        self._lock = threading.Lock()
        self._generation = 0
        #: how many times the client logged in and refreshed (for tests and run info)
        self.logins = 0
        self.refreshes = 0

    # -- authentication -----------------------------------------------------------------
    def login(self) -> Token:
        """Log in with the password grant; raises Fatal when IQM refuses."""
        with self._lock:
            return self._login()

    def _login(self) -> Token:
        s, c = self.settings, self.credentials
        headers = {"Authorization": c.basic(), "X-IAA-HOST": s.workspace_host}
        if s.auth == "login":
            body = {"grantType": "password", "email": c.username.reveal(),
                    "password": c.password.reveal()}
            response = self._post(LOGIN, headers=headers, json=body)
            data = self._auth_data(response, "the login")
        else:
            form = {"grant_type": "password", "username": c.username.reveal(),
                    "password": c.password.reveal()}
            response = self._post(TOKEN, headers=headers, data=form)
            data = self._auth_data(response, "the OAuth token request")
        self.logins += 1
        token = self._store(data, previous=None)
        log.info("logged in to IQM workspace %s (owId %s)", s.workspace_host, token.ow_id)
        return token

    def _refresh(self) -> Token:
        """Trade the refresh token for a new access token, or log in again."""
        token = self.token
        if token is None or token.refresh is None:
            return self._login()
        form = {"grant_type": "refresh_token", "refresh_token": token.refresh.reveal()}
        headers = {"Authorization": self.credentials.basic(),
                   "X-IAA-HOST": self.settings.workspace_host}
        response = self._post(TOKEN, headers=headers, data=form)
        body = body_of(response)
        held = on_hold(body)
        if held:
            raise Fatal(held)
        if response.status_code in (400, 401, 403) or not isinstance(body, dict):
            log.info("IQM refused the refresh token (HTTP %s); logging in again",
                     response.status_code)
            return self._login()
        data = self._auth_data(response, "the token refresh")
        self.refreshes += 1
        return self._store(data, previous=token)

    def _post(self, path: str, **kwargs: Any) -> requests.Response:
        self.window.acquire()
        return send(self.http, "POST", self.settings.api + path, timeout=self.timeout, **kwargs)

    def _auth_data(self, response: requests.Response, what: str) -> dict:
        """The token fields of an answer, wrapped in IQM's envelope or not."""
        if response.status_code == 404 and self.settings.auth == "login":
            raise Fatal("IQM has no /api/v3/ua/login here (404): IQM dropped the JSON login "
                        "from its newest API spec; set auth = \"oauth\" in the job's settings")
        if response.status_code >= 400:
            error = classify(response, what)
            raise Fatal(str(error)) if isinstance(error, Refused) else error
        body = body_of(response)
        if isinstance(body, dict) and "access_token" not in body and (
                "success" in body or "data" in body):
            if body.get("success") is False:
                raise Fatal(str(classify(response, what)))
            body = body.get("data")
        if not isinstance(body, dict) or not body.get("access_token"):
            raise Fatal(f"IQM answered {what} without an access_token (HTTP "
                        f"{response.status_code}); check base_url ({self.settings.api})")
        return body

    def _store(self, data: dict, *, previous: Token | None) -> Token:
        """Keep the answer's tokens; the refresh token and workspace id carry over from
        ``previous`` (the token being refreshed) when the answer has none."""
        access = Secret(str(data["access_token"]), "IQM access token")
        refresh_text = data.get("refresh_token")
        refresh = (Secret(str(refresh_text), "IQM refresh token") if refresh_text
                   else previous.refresh if previous is not None else None)
        ow_id = (_positive(data.get("owId")) or self.settings.ow_id
                 or (previous.ow_id if previous is not None else None)
                 or self._fetch_ow_id(access))
        self._generation += 1
        expires_in = float(data.get("expires_in") or 0) or 3600.0
        self.token = Token(access=access, refresh=refresh,
                           expires_at=self.clock() + expires_in, ow_id=ow_id,
                           generation=self._generation)
        return self.token

    def _fetch_ow_id(self, access: Secret) -> int:
        """``GET /api/v3/ua/user/ow-id`` ([IQM-OAS] mcp-user.json): the workspace id of the
        token's user, for token answers that carry no ``owId``."""
        self.window.acquire()
        response = send(self.http, "GET", self.settings.api + OW_ID, timeout=self.timeout,
                        headers={"Authorization": f"Bearer {access.reveal()}"})
        try:
            ow_id = _positive(data_of(response, "reading the workspace id"))
        except (Fatal, Refused) as exc:
            raise Fatal(redact(f"IQM's token answer carries no owId and {exc}: set ow_id "
                               "(your organization workspace id) in the job's settings")) from None
        if ow_id is None:
            raise Fatal("IQM's token answer carries no owId and GET /api/v3/ua/user/ow-id gave "
                        "none: set ow_id (your organization workspace id) in the job's settings")
        log.info("read the IQM workspace id from %s", OW_ID)
        return ow_id

    def _current(self) -> Token:
        with self._lock:
            token = self.token
            if token is None:
                return self._login()
            if self.clock() >= token.expires_at - EXPIRY_MARGIN:
                log.info("the IQM access token expires soon; refreshing it")
                return self._refresh()
            return token

    def _renew_after_401(self, failed: Token) -> Token:
        with self._lock:
            if self.token is not None and self.token.generation != failed.generation:
                return self.token  # another thread already renewed it
            log.info("IQM answered 401; refreshing the token and retrying once")
            return self._refresh()

    # -- calls ---------------------------------------------------------------------------
    @property
    def ow_id(self) -> int:
        return self._current().ow_id

    def request(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        """Send an authenticated call; on 401 refresh the token and retry once."""
        token = self._current()
        response = self._send(method, path, token, **kwargs)
        if response.status_code == 401:
            token = self._renew_after_401(token)
            response = self._send(method, path, token, **kwargs)
            if response.status_code == 401:
                error = classify(response, what)
                raise Fatal(redact(f"IQM refused a fresh token for {what} (401): {error}"))
        return response

    def call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        """:meth:`request`, then the envelope's ``data`` (or the classified error)."""
        return data_of(self.request(method, path, what, **kwargs), what)

    def _send(self, method: str, path: str, token: Token, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token.access.reveal()}",
                   "X-IAA-OW-ID": str(token.ow_id), **kwargs.pop("headers", {})}
        self.window.acquire()
        return send(self.http, method, self.settings.api + path, timeout=self.timeout,
                    headers=headers, **kwargs)


def _positive(value: Any) -> int | None:
    """A workspace id from an answer (a number or digits), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value) or None
    return None
