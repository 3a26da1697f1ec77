"""Google-shaped errors for the Data Manager emulator.

Google APIs answer every failure with one JSON object (AIP-193,
``google/rpc/status.proto``)::

    {"error": {"code": <HTTP status>, "message": "...", "status": "<gRPC code name>",
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", ...}]}}

``details`` holds standard payloads from ``google/rpc/error_details.proto`` in their
JSON form (camelCase field names, map keys as they are). The Data Manager API's own
reasons (``google/ads/datamanager/v1/error.proto`` ``ErrorReason``) go in
``ErrorInfo.reason`` with the domain ``datamanager.googleapis.com``. Which payloads
appear and their wording are partly guesses; ``docs/google-emulator.md`` lists them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from connector.kit import Response

DOMAIN = "datamanager.googleapis.com"
SERVICE = "datamanager.googleapis.com"
#: The API's RPC methods, as ``ErrorInfo.metadata.method`` names them.
INGEST_METHOD = "google.ads.datamanager.v1.IngestionService.IngestEvents"
STATUS_METHOD = "google.ads.datamanager.v1.IngestionService.RetrieveRequestStatus"
TYPE = "type.googleapis.com/google.rpc."

#: HTTP status of each canonical code the emulator answers with (google/rpc/code.proto).
STATUS = {"INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403,
          "NOT_FOUND": 404, "RESOURCE_EXHAUSTED": 429, "INTERNAL": 500, "UNAVAILABLE": 503,
          "DEADLINE_EXCEEDED": 504}

#: The quota limits of the limits page (metadata.quota_limit) and their windows.
QUOTA_LIMITS = {
    ("mutate", "minute"): ("IngestionMutateRequestsPerMinutePerProject", 300),
    ("mutate", "day"): ("IngestionMutateRequestsPerDayPerProject", 100_000),
    ("read", "minute"): ("IngestionReadRequestsPerMinutePerProject", 300),
    ("read", "day"): ("IngestionReadRequestsPerDayPerProject", 100_000),
}

_AUTH_HELP = ("Expected OAuth 2 access token, login cookie or other valid authentication "
              "credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.")


@dataclass
class GoogleError(Exception):
    """One error answer: raise it anywhere in a handler, the emulator serves it."""

    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.status, "message": self.message,
                                 "status": self.code}
        details = [*self.details, request_info()]
        error["details"] = details
        return {"error": error}

    def response(self) -> Response:
        return Response(self.status, self.body(), dict(self.headers))

    def reason(self) -> str | None:
        for detail in self.details:
            if detail.get("@type") == TYPE + "ErrorInfo":
                return detail.get("reason")
        return None

    def summary(self) -> dict[str, Any]:
        """What the request log keeps: status, code, reason and the first field path."""
        fields = [v["field"] for d in self.details for v in d.get("fieldViolations", [])]
        return {"status": self.status, "code": self.code, "reason": self.reason(),
                "field": fields[0] if fields else None, "message": self.message}


def error_info(reason: str, domain: str = DOMAIN, **metadata: str) -> dict[str, Any]:
    info: dict[str, Any] = {"@type": TYPE + "ErrorInfo", "reason": reason, "domain": domain}
    if metadata:
        info["metadata"] = dict(metadata)
    return info


def request_info() -> dict[str, Any]:
    return {"@type": TYPE + "RequestInfo", "requestId": uuid.uuid4().hex[:16]}


# -- 400 ----------------------------------------------------------------------------------

def invalid(field_path: str, reason: str, description: str) -> GoogleError:
    """A request the service's own validation refuses: INVALID_ARGUMENT, the Data Manager
    reason in ErrorInfo and one BadRequest field violation naming the field."""
    violation = {"field": field_path, "description": description, "reason": reason}
    return GoogleError("INVALID_ARGUMENT", "Request contains an invalid argument.",
                       [error_info(reason), {"@type": TYPE + "BadRequest",
                                             "fieldViolations": [violation]}])


def bad_json(field_path: str, description: str) -> GoogleError:
    """What Google's JSON transcoding answers for a body that does not fit the proto
    (unknown name, wrong type, bad enum or timestamp): the description is the message."""
    violation = {"field": field_path, "description": description}
    return GoogleError("INVALID_ARGUMENT", description,
                       [{"@type": TYPE + "BadRequest", "fieldViolations": [violation]}])


# -- 401 / 403 ------------------------------------------------------------------------------

def unauthenticated(reason: str, method: str) -> GoogleError:
    """No token (CREDENTIALS_MISSING) or a token that is unknown or expired."""
    if reason == "CREDENTIALS_MISSING":
        message = "Request is missing required authentication credential. " + _AUTH_HELP
    else:
        message = "Request had invalid authentication credentials. " + _AUTH_HELP
    return GoogleError("UNAUTHENTICATED", message,
                       [error_info(reason, "googleapis.com", service=SERVICE, method=method)],
                       {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                                            'error="invalid_token"'})


def insufficient_scopes(method: str) -> GoogleError:
    return GoogleError("PERMISSION_DENIED", "Request had insufficient authentication scopes.",
                       [error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", "googleapis.com",
                                   service=SERVICE, method=method)])


def permission_denied(account: str, role: str = "operating account") -> GoogleError:
    """The caller cannot reach this account (``accountTypes/<type>/accounts/<id>``)."""
    return GoogleError("PERMISSION_DENIED",
                       f"The caller does not have permission to access the {role} {account}.",
                       [error_info("PERMISSION_DENIED", account=account)])


# -- 429 / 5xx ------------------------------------------------------------------------------

def quota_exceeded(operation: str = "mutate", window: str = "minute",
                   retry_after: float | None = None) -> GoogleError:
    """RESOURCE_EXHAUSTED for one of the project quotas. The limit's name in
    ``ErrorInfo.metadata.quota_limit`` is what tells a per-minute limit from the daily
    one (limits page); a per-minute answer also carries RetryInfo and Retry-After."""
    if (operation, window) not in QUOTA_LIMITS:
        raise ValueError(f"quota must be mutate|read per minute|day, not {operation}/{window}")
    limit, value = QUOTA_LIMITS[(operation, window)]
    unit = "1/min/{project}" if window == "minute" else "1/d/{project}"
    metric = f"{SERVICE}/ingestion_{operation}_requests"
    message = (f"Quota exceeded for quota metric '{metric}' and limit '{limit}' of service "
               f"'{SERVICE}' for consumer 'project_number:000000000000'.")
    details = [error_info("RATE_LIMIT_EXCEEDED", "googleapis.com", quota_limit=limit,
                          quota_metric=metric, quota_limit_value=str(value),
                          quota_location="global", quota_unit=unit,
                          consumer="projects/000000000000", service=SERVICE)]
    headers: dict[str, str] = {}
    if retry_after is not None:
        details.append({"@type": TYPE + "RetryInfo", "retryDelay": f"{retry_after:g}s"})
        headers["Retry-After"] = f"{max(1, round(retry_after))}"
    return GoogleError("RESOURCE_EXHAUSTED", message, details, headers)


def internal() -> GoogleError:
    return GoogleError("INTERNAL", "Internal error encountered.",
                       [error_info("INTERNAL_ERROR")])


def unavailable() -> GoogleError:
    return GoogleError("UNAVAILABLE", "The service is currently unavailable.")


def deadline_exceeded() -> GoogleError:
    return GoogleError("DEADLINE_EXCEEDED", "The request took too long to respond.",
                       [error_info("DEADLINE_EXCEEDED")])


def not_found(path: str) -> GoogleError:
    return GoogleError("NOT_FOUND", f"The requested URL {path} was not found on this server.")


def oauth_error(status: int, error: str, description: str) -> Response:
    """The token endpoint's own error shape (RFC 6749 section 5.2), not the API's."""
    return Response(status, {"error": error, "error_description": description})
