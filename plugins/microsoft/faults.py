"""Microsoft Advertising faults -> offramp's error classes.

Whole-request faults come back as HTTP 400/401/403/500 with an ``ApplicationFault``
body whose ``Type`` picks the shape (msads ``models/campaign/application_fault.py``):
``AdApiFaultDetail`` (``Errors[]``), ``ApiFaultDetail`` (``OperationErrors[]`` and
``BatchErrors[]``) or one of the ``AdCenter*Fault`` types (``ErrorCode`` text).
Codes are keyed numerically: the SDK compares ``'117'`` as text while its model
types ``Code`` as an int, so both forms are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from connector.kit import BatchRejected, Fatal, Retryable
from connector.kit.http import retry_after
from connector.kit.secrets import redact
from plugins.microsoft.settings import MicrosoftSettings

INVALID_CREDENTIALS = 105
NOT_AUTHORIZED = 106
TOKEN_EXPIRED = 109
CALL_RATE_EXCEEDED = 117
INTERNAL_ERROR = 0
APPLY_FAILED = 5612
LIMIT_EXCEEDED = 5601
#: Back off at least this long after throttling, unless Retry-After says otherwise
#: (services-protocol.md#throttling-campaign: "after waiting 60 seconds").
THROTTLE_WAIT = 60.0
_TRANSIENT_TYPES = {"AdCenterInternalErrorFault", "AdCenterSystemFault"}


class TokenExpired(Exception):
    """Code 109: the access token must be renewed before the request is sent again."""


@dataclass(frozen=True)
class ApiError:
    """One error of a fault or a PartialErrors list."""

    code: int | None
    error_code: str
    message: str
    index: int | None = None

    def describe(self) -> str:
        head = " ".join(p for p in (str(self.code) if self.code is not None else "",
                                    self.error_code) if p)
        text = f"{head}: {self.message}" if self.message else head
        return redact(text or "unknown error")


def as_int(value: Any) -> int | None:
    """An int from a JSON number or numeric string (int64 fields may come as text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def api_error(item: Any) -> ApiError:
    if not isinstance(item, dict):
        return ApiError(None, "", str(item))
    return ApiError(as_int(item.get("Code")), str(item.get("ErrorCode") or ""),
                    str(item.get("Message") or item.get("ErrorMessage") or ""),
                    as_int(item.get("Index")))


def fault_errors(body: Any) -> tuple[str, list[ApiError]]:
    """The fault's ``Type`` and its errors, whatever its shape."""
    if not isinstance(body, dict):
        return "", []
    kind = str(body.get("Type") or "")
    errors = [api_error(e) for key in ("Errors", "OperationErrors")
              for e in (body.get(key) or [])]
    if not errors and body.get("ErrorCode"):
        errors = [ApiError(None, str(body["ErrorCode"]), str(body.get("ErrorMessage") or ""))]
    return kind, errors


def batch_errors(body: Any) -> list[ApiError]:
    """``BatchErrors`` of an ApiFaultDetail (item errors inside a whole-request fault)."""
    if not isinstance(body, dict):
        return []
    return [api_error(e) for e in (body.get("BatchErrors") or [])]


def classify(response: requests.Response, settings: MicrosoftSettings,
             body: Any) -> Exception:
    """The exception for a non-200 answer (``body`` is its parsed JSON, or None).

    Returns :class:`TokenExpired` for 109 (the caller renews and retries once),
    :class:`Retryable` for throttling and transient faults, :class:`BatchRejected`
    when the request was too large, :class:`Fatal` for everything a retry cannot fix.
    """
    status = response.status_code
    kind, errors = fault_errors(body)
    codes = {e.code for e in errors}
    what = "; ".join(e.describe() for e in errors) or kind or f"HTTP {status}, no details"
    if status == 429 or CALL_RATE_EXCEEDED in codes:
        wait = retry_after(response)
        return Retryable(f"Microsoft Advertising throttled the request ({what}); "
                         "waiting before sending again",
                         retry_after=THROTTLE_WAIT if wait is None else wait, throttled=True)
    if TOKEN_EXPIRED in codes:
        return TokenExpired(what)
    if (INVALID_CREDENTIALS in codes or kind == "AdCenterAuthenticationFault"
            or (status == 401 and not codes)):
        return Fatal(f"Microsoft Advertising refused the credentials ({what}): check the access "
                     f"token in {settings.access_token_env} and the developer token in "
                     f"{settings.developer_token_env}, and that they are for the "
                     f"{settings.environment} environment")
    if (NOT_AUTHORIZED in codes or kind == "AdCenterAuthorizationFault"
            or (status == 403 and not codes)):
        return Fatal(f"the user behind {settings.access_token_env} may not use customer "
                     f"{settings.customer_id} / account {settings.account_id} ({what}): check "
                     "customer_id and account_id in [settings]")
    if status >= 500 or kind in _TRANSIENT_TYPES or codes & {INTERNAL_ERROR, APPLY_FAILED}:
        return Retryable(f"Microsoft Advertising failed to answer (HTTP {status}, {what})")
    if LIMIT_EXCEEDED in codes:
        return BatchRejected(f"Microsoft Advertising refused the request size ({what})")
    return Fatal(f"Microsoft Advertising refused the request (HTTP {status}, {what})")
