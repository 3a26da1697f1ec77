"""Authentication for the IQM emulator: login, OAuth token, bearer checks.

[IQM-DOCS] user-api.mdx and authentication-quickstart-guide.mdx, seed 003, and
shared/reference/seed_apis.md B.1 and D.2:

* ``POST /api/v3/ua/login``: ``Authorization: Basic`` with a known client,
  ``X-IAA-HOST``, a JSON ``{"grantType": "password", "email", "password"}``;
  a wrong user, password or workspace gets the documented 403, an account on hold
  the documented 400; the answer is wrapped (``{"success": true, "data": {...}}``)
  with ``owId``. ``login_removed`` answers 404 instead (IQM dropped the route from
  its newest spec in August 2026);
* ``POST /api/v3/ua/oauth/token``: form body, ``grant_type`` ``password`` or
  ``refresh_token``. The password grant answers in ``oauth_shape``: ``"unwrapped"``
  without ``owId`` (the user API page, the default) or ``"wrapped"`` with it (the
  quickstart). A refresh answers unwrapped without ``owId`` (both pages); it
  invalidates the old access token, and with ``rotate_refresh`` (the default) the
  old refresh token too, issuing a new one; without it, it returns the same refresh
  token, as both pages' samples do;
* ``GET /api/v3/ua/user/ow-id``: ``{"success": true, "data": <owId>}`` for a
  bearer token alone ([IQM-OAS] mcp-user.json);
* other routes: ``Authorization: Bearer <live token>`` (else 401 "Invalid token")
  and ``X-IAA-OW-ID`` equal to the token's owId (else 403 "Forbidden !").
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector.kit import Request, Response

NOT_IN_WORKSPACE = "User doesn't exist or user is not allowed to provided workspace."


@dataclass
class User:
    email: str
    password: str
    host: str
    ow_id: int
    uow_id: int
    on_hold: bool = False


@dataclass
class Issued:
    email: str
    ow_id: int
    expires_at: float
    refresh: str


def ok(data: Any, status: int = 200) -> Response:
    return Response(status, {"success": True, "data": data})


def fail(status: int, error: str, *, field: str | None = None,
         reason: str | None = None) -> Response:
    obj: dict[str, Any] = {"error": error}
    if reason:
        obj["reason"] = reason
    if field:
        obj["field"] = field
    return Response(status, {"success": False, "errorObjects": [obj]})


class AuthRoutes:
    """The emulator's auth routes; mixed into :class:`plugins.iqm.emulator.IqmEmulator`."""

    clock: Callable[[], float]
    token_ttl: float
    oauth_shape: str
    rotate_refresh: bool
    login_removed: bool
    clients: dict[str, str]
    users: dict[str, User]
    tokens: dict[str, Issued]
    refresh_tokens: dict[str, str]
    logins: int
    refreshes: int

    def _client(self, request: Request) -> str | None:
        header = request.header("authorization") or ""
        if not header.startswith("Basic "):
            return None
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        return client_id if self.clients.get(client_id) == secret else None

    def _issue(self, user: User, refresh: str | None = None) -> dict[str, Any]:
        """A new access token (and a new refresh token unless ``refresh`` is kept)."""
        access, refresh = str(uuid.uuid4()), refresh or str(uuid.uuid4())
        self.tokens[access] = Issued(user.email, user.ow_id, self.clock() + self.token_ttl,
                                     refresh)
        self.refresh_tokens[refresh] = access
        return {"access_token": access, "refresh_token": refresh, "scope": "read write",
                "token_type": "bearer", "expires_in": int(self.token_ttl), "owId": user.ow_id}

    @staticmethod
    def _held() -> Response:
        return Response(400, {
            "success": False,
            "data": {"status": "On Hold", "reason": "The particular account is kept on hold "
                     "due to missed payment dates for last 3 months.",
                     "supportEmail": "support@iqm.com"},
            "errorObjects": [{"error": "User is not allowed to access provided customer",
                              "reason": "User is not associated with any active organization."}],
        })

    def _login(self, request: Request) -> Response:
        if self.login_removed:
            return fail(404, "Not found")
        if self._client(request) is None:
            return fail(401, "Unauthorized", reason="Bad client credentials")
        host = request.header("x-iaa-host")
        if not host:
            return fail(400, "X-IAA-HOST header is required", field="X-IAA-HOST")
        if "application/json" not in (request.header("content-type") or ""):
            return fail(400, "Content-Type must be application/json")
        try:
            body = request.json()
        except ValueError:
            return fail(400, "the request body is not JSON")
        if not isinstance(body, dict):
            return fail(400, "the request body must be a JSON object")
        for key in ("grantType", "email", "password"):
            if not body.get(key):
                return fail(400, f"{key} is required", field=key)
        if body["grantType"] != "password":
            return fail(400, "grantType must be password", field="grantType")
        user = self.users.get(body["email"])
        if user is None or user.password != body["password"] or user.host != host:
            return fail(403, NOT_IN_WORKSPACE)
        if user.on_hold:
            return self._held()
        self.logins += 1
        return ok(self._issue(user))

    def _token(self, request: Request) -> Response:
        if self._client(request) is None:
            return Response(401, {"error": "unauthorized",
                                  "error_description": "Bad client credentials"})
        if "application/x-www-form-urlencoded" not in (request.header("content-type") or ""):
            return Response(400, {"error": "invalid_request",
                                  "error_description": "expected a form body"})
        form = request.form()
        grant = form.get("grant_type")
        if grant == "password":
            return self._password_grant(request, form)
        if grant == "refresh_token":
            return self._refresh_grant(form)
        return Response(400, {"error": "unsupported_grant_type",
                              "error_description": "grant_type must be password or "
                                                   "refresh_token"})

    def _password_grant(self, request: Request, form: dict[str, str]) -> Response:
        user = self.users.get(form.get("username", ""))
        host = request.header("x-iaa-host")
        if user is None or user.password != form.get("password") or (host and user.host != host):
            return Response(400, {"error": "invalid_grant", "error_description": "Bad credentials"})
        self.logins += 1
        if user.on_hold:
            return self._held()
        answer = self._issue(user)
        if self.oauth_shape == "wrapped":
            return ok(answer)
        answer.pop("owId")
        return Response(200, answer)

    def _refresh_grant(self, form: dict[str, str]) -> Response:
        refresh = form.get("refresh_token", "")
        old_access = self.refresh_tokens.pop(refresh, None)
        issued = self.tokens.pop(old_access, None) if old_access is not None else None
        user = next((u for u in self.users.values()
                     if issued is not None and u.email == issued.email), None)
        if user is None:
            return Response(400, {"error": "invalid_grant",
                                  "error_description": "Invalid refresh token"})
        self.refreshes += 1
        if user.on_hold:
            return self._held()
        answer = self._issue(user, None if self.rotate_refresh else refresh)
        answer.pop("owId")  # both refresh samples are unwrapped, without owId
        return Response(200, answer)

    def _ow_id(self, request: Request) -> Response:
        """``GET /api/v3/ua/user/ow-id``: a bearer token alone, no ``X-IAA-OW-ID``."""
        header = request.header("authorization") or ""
        issued = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if issued is None or self.clock() >= issued.expires_at:
            return fail(401, "Invalid token")
        return ok(issued.ow_id)

    def _authenticate(self, request: Request) -> Issued | Response:
        header = request.header("authorization") or ""
        issued = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if issued is None or self.clock() >= issued.expires_at:
            return fail(401, "Invalid token")
        if request.header("x-iaa-ow-id") != str(issued.ow_id):
            return fail(403, "Forbidden !")
        return issued
