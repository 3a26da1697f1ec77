"""Graph API error bodies, as the Meta emulator serves them.

Every error Meta's Graph API returns has the same envelope
(``docs/meta-emulator.md`` and ``shared/reference/meta_capi.md`` section 7)::

    {"error": {"message", "type", "code", "error_subcode", "error_user_title",
               "error_user_msg", "fbtrace_id", "is_transient"}}

``error_subcode``, ``error_user_title`` and ``error_user_msg`` appear only when
the error has them, as on Meta's side. The factories below build the errors the
emulator answers with; where a message or an HTTP status is the emulator's own
wording rather than a recorded Meta reply, ``docs/meta-emulator.md`` says so.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from connector.kit import Response

#: Throttling codes -> (HTTP status, message, subcode). Code 4 was observed with
#: HTTP 403 and code 17 with HTTP 400 (see docs/meta-emulator.md); 341, 613 and the
#: 8000x codes use 400 by analogy.
THROTTLES: dict[int, tuple[int, str, int | None]] = {
    4: (403, "(#4) Application request limit reached", None),
    17: (400, "(#17) User request limit reached", 2446079),
    341: (400, "(#341) Application limit reached", None),
    613: (400, "(#613) There have been too many calls from this ad-account. Please wait a "
               "bit and try again.", 1487742),
    80003: (400, "(#80003) There have been too many calls to this ad-account. "
                 "Wait a bit and try again.", None),
    80004: (400, "(#80004) There have been too many calls to this ad-account. Wait a bit and "
                 "try again. For more info, please refer to "
                 "/docs/graph-api/overview/rate-limiting#ads-management.", None),
}

#: Permission codes -> message: 10 from Meta's Marketing API error reference, 200 as
#: Graph answers it (HTTP 403 in public reports); other codes of 200-299 reuse it.
PERMISSIONS: dict[int, str] = {
    10: "(#10) Application does not have permission for this action",
    200: "(#200) Permissions error",
}

#: Transient codes -> message (both are "retry" in Meta's error-handling guide).
TRANSIENTS: dict[int, str] = {
    1: "An unknown error has occurred.",
    2: "An unexpected error has occurred. Please retry your request later.",
}


def fbtrace_id() -> str:
    """A support id shaped like Meta's (23 URL-safe characters starting with A)."""
    return "A" + secrets.token_urlsafe(16)[:22]


class GraphError(Exception):
    """An error answer: raise it while handling a request, serve :meth:`response`."""

    def __init__(self, status: int, code: int, message: str, *, type: str = "OAuthException",
                 subcode: int | None = None, title: str | None = None,
                 user_msg: str | None = None, transient: bool = False,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.type = type
        self.subcode = subcode
        self.title = title
        self.user_msg = user_msg
        self.transient = transient
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body, with a fresh ``fbtrace_id``."""
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["is_transient"] = self.transient
        if self.title is not None:
            error["error_user_title"] = self.title
        if self.user_msg is not None:
            error["error_user_msg"] = self.user_msg
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}

    def response(self) -> Response:
        return Response(self.status, self.body(), dict(self.headers))

    def summary(self) -> dict[str, Any]:
        """What the emulator's request log keeps about this error."""
        return {"status": self.status, "code": self.code, "subcode": self.subcode,
                "message": self.message, "title": self.title}


# -- request-level errors ---------------------------------------------------------------

def invalid_event(title: str, user_msg: str, subcode: int | None = None) -> GraphError:
    """An event broke a rule: Meta rejects the whole request (code 100)."""
    return GraphError(400, 100, "Invalid parameter", subcode=subcode, title=title,
                      user_msg=user_msg)


def param_error(text: str) -> GraphError:
    """A request parameter is missing or malformed, in Graph's ``(#100) ...`` style."""
    return GraphError(400, 100, f"(#100) {text}")


def missing_token() -> GraphError:
    return GraphError(400, 104, "An access token is required to request this resource.")


def invalid_token(status: int) -> GraphError:
    return GraphError(status, 190, "Invalid OAuth access token - Cannot parse access token")


def expired_token(status: int, expired_at: float, now: float) -> GraphError:
    def stamp(t: float) -> str:
        return time.strftime("%A, %d-%b-%y %H:%M:%S UTC", time.gmtime(t))

    return GraphError(status, 190, f"Error validating access token: Session has expired on "
                                   f"{stamp(expired_at)}. The current time is {stamp(now)}.",
                      subcode=463)


def unknown_object(object_id: str, method: str) -> GraphError:
    return GraphError(
        400, 100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id[:64]}' does not exist, "
        "cannot be loaded due to missing permissions, or does not support this operation. "
        "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        type="GraphMethodException", subcode=33)


def deprecated_version(latest: str) -> GraphError:
    return GraphError(400, 2635, "(#2635) You are calling a deprecated version of the Ads API. "
                                 f"Please update to the latest version: {latest}.")


def unknown_path(path: str) -> GraphError:
    return GraphError(400, 2500, f"Unknown path components: {path[:200]}")


# -- faults -----------------------------------------------------------------------------

def throttled(code: int) -> GraphError:
    """A throttling answer for one of :data:`THROTTLES`."""
    if code not in THROTTLES:
        raise ValueError(f"throttle code must be one of {sorted(THROTTLES)}, not {code}")
    status, message, subcode = THROTTLES[code]
    return GraphError(status, code, message, subcode=subcode, transient=True)


def denied(code: int, status: int = 403) -> GraphError:
    """A permission error: code 10, or one of 200-299."""
    if code != 10 and not 200 <= code <= 299:
        raise ValueError(f"permission code must be 10 or 200-299, not {code}")
    message = PERMISSIONS.get(code, f"(#{code}) Permissions error")
    return GraphError(status, code, message)


def transient(code: int) -> GraphError:
    """A temporary failure (codes 1 and 2): HTTP 500, ``is_transient`` true."""
    if code not in TRANSIENTS:
        raise ValueError(f"transient code must be one of {sorted(TRANSIENTS)}, not {code}")
    return GraphError(500, code, TRANSIENTS[code], transient=True)


def unavailable(status: int) -> GraphError:
    """A server-side outage: the given 5xx status with Graph's code 2 body."""
    if not 500 <= status <= 599:
        raise ValueError(f"server_error status must be a 5xx status, not {status}")
    return GraphError(status, 2, "(#2) Service temporarily unavailable", transient=True)
