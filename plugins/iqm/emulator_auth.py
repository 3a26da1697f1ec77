"""Authentication for the IQM emulator: login, OAuth token, bearer checks.

[IQM-DOCS] user-api.mdx and authentication-quickstart-guide.mdx, seed 003, and
shared/reference/seed_apis.md B.1 and D.2:

* ``POST /api/v3/ua/login``: ``Authorization: Basic`` with a known client,
  ``X-IAA-HOST``, a JSON ``{"grantType": "password", "email", "password"}``;
  a wrong user, password or workspace gets the documented 403, an account on hold
  the documented 400;
* ``POST /api/v3/ua/oauth/token``: form body, ``grant_type`` ``password`` or
  ``refresh_token``, the answer without envelope; a refresh invalidates the old
  access and refresh tokens;
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
    oauth_returns_owid: bool
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

    def _issue(self, user: User) -> dict[str, Any]:
        access, refresh = str(uuid.uuid4()), str(uuid.uuid4())
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
            user = self.users.get(form.get("username", ""))
            host = request.header("x-iaa-host")
            if user is None or user.password != form.get("password") or (
                    host and user.host != host):
                return Response(400, {"error": "invalid_grant",
                                      "error_description": "Bad credentials"})
            self.logins += 1
        elif grant == "refresh_token":
            old_access = self.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if old_access is None:
                return Response(400, {"error": "invalid_grant",
                                      "error_description": "Invalid refresh token"})
            issued = self.tokens.pop(old_access, None)
            user = next((u for u in self.users.values()
                         if issued is not None and u.email == issued.email), None)
            if user is None:
                return Response(400, {"error": "invalid_grant",
                                      "error_description": "Invalid refresh token"})
            self.refreshes += 1
        else:
            return Response(400, {"error": "unsupported_grant_type",
                                  "error_description": "grant_type must be password or "
                                                       "refresh_token"})
        if user.on_hold:
            return self._held()
        answer = self._issue(user)
        if not self.oauth_returns_owid:
            answer.pop("owId")
        return Response(200, answer)

    def _authenticate(self, request: Request) -> Issued | Response:
        header = request.header("authorization") or ""
        issued = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if issued is None or self.clock() >= issued.expires_at:
            return fail(401, "Invalid token")
        if request.header("x-iaa-ow-id") != str(issued.ow_id):
            return fail(403, "Forbidden !")
        return issued
