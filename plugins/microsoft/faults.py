"""Microsoft Advertising faults -> offramp's error classes.

Whole-request faults come back as HTTP 400/401/403/500 with an ``ApplicationFault``
body whose ``Type`` picks the shape (msads ``models/campaign/application_fault.py``):
``AdApiFaultDetail`` (``Errors[]``), ``ApiFaultDetail`` (``OperationErrors[]`` and
``BatchErrors[]``) or one of the ``AdCenter*Fault`` types (``ErrorCode`` text). The
fault is the body itself in the SDK and the reference pages, and wrapped as
``{"ApplicationFault": {...}}`` in Microsoft's SOAP-to-REST migration guide: both
are read (:func:`unwrap`). Faults are classified by their numeric codes, whichever
list holds them, never by the HTTP status (which Microsoft does not document per
code). Codes are keyed numerically: the SDK compares ``'117'`` as text while its
model types ``Code`` as an int, so both forms are accepted.
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
MISSING_HEADERS = 116
CUSTOMER_ID_MISSING = 1029
ACCOUNT_ID_MISSING = {1009, 1030}
INVALID_ACCOUNT = 1102
INVALID_CUSTOMER = 1490
INTERNAL_ERROR = 0
APPLY_FAILED = 5612
LIMIT_EXCEEDED = 5601
#: What to do about item errors whose message alone does not say it. Every item error is
#: a final rejection of its event: it is not sent again until its rows change.
ITEM_ADVICE = {
    5603: "send microsoft_click_id, or an email or phone for enhanced conversions",
    5616: "Microsoft has this click and it is later than the conversion: check that timestamp "
          "is the conversion's time, in UTC",
    5617: "the click is older than the goal's conversion window, so Microsoft does not count "
          "this conversion",
}
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
        advice = (ITEM_ADVICE.get(self.code)
                  if self.index is not None and self.code is not None else None)
        if advice:
            text = f"{text.rstrip('.')} ({advice})"
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


def unwrap(body: Any) -> Any:
    """The fault itself, out of an ``{"ApplicationFault": {...}}`` wrapper when there is one."""
    if isinstance(body, dict) and isinstance(body.get("ApplicationFault"), dict):
        return body["ApplicationFault"]
    return body


def fault_errors(body: Any) -> tuple[str, list[ApiError]]:
    """The fault's ``Type`` and its errors, whatever its shape and envelope."""
    body = unwrap(body)
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
    body = unwrap(body)
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
    setting_problem = _setting_problem(status, codes, kind, errors, settings, what)
    if setting_problem is not None:
        return Fatal(setting_problem)
    if status >= 500 or kind in _TRANSIENT_TYPES or codes & {INTERNAL_ERROR, APPLY_FAILED}:
        return Retryable(f"Microsoft Advertising failed to answer (HTTP {status}, {what})")
    if LIMIT_EXCEEDED in codes:
        return BatchRejected(f"Microsoft Advertising refused the request size ({what})")
    return Fatal(f"Microsoft Advertising refused the request (HTTP {status}, {what})")


def _setting_problem(status: int, codes: set[int | None], kind: str, errors: list[ApiError],
                     s: MicrosoftSettings, what: str) -> str | None:
    """The message naming the setting to fix, for the header and account faults."""
    auth_code = next((e.error_code for e in errors if kind == "AdCenterAuthenticationFault"), "")
    if MISSING_HEADERS in codes or auth_code == "NoCredential":
        return (f"Microsoft Advertising says a required header is missing ({what}): offramp "
                "sends Authorization, DeveloperToken, CustomerId and CustomerAccountId from "
                f"{s.access_token_env}, {s.developer_token_env}, customer_id and account_id; "
                "check that none of them is empty")
    if CUSTOMER_ID_MISSING in codes:
        return (f"Microsoft Advertising needs the customer id ({what}): set customer_id in "
                "[settings] to the manager account id (sent as CustomerId)")
    if codes & ACCOUNT_ID_MISSING:
        return (f"Microsoft Advertising needs the account id ({what}): set account_id in "
                "[settings] to the ad account id (sent as CustomerAccountId)")
    if INVALID_CUSTOMER in codes or auth_code == "InvalidCustomerId":
        return (f"Microsoft Advertising does not know customer {s.customer_id} ({what}): check "
                "customer_id in [settings]; it is the manager account id, not the account id")
    if INVALID_ACCOUNT in codes:
        return (f"Microsoft Advertising does not know account {s.account_id} ({what}): check "
                "account_id in [settings]; it is the ad account id (CustomerAccountId)")
    if (INVALID_CREDENTIALS in codes or kind == "AdCenterAuthenticationFault"
            or (status == 401 and not codes)):
        return (f"Microsoft Advertising refused the credentials ({what}): check the access "
                f"token in {s.access_token_env} and the developer token in "
                f"{s.developer_token_env}, and that they are for the {s.environment} "
                "environment")
    if (NOT_AUTHORIZED in codes or kind == "AdCenterAuthorizationFault"
            or (status == 403 and not codes)):
        return (f"the user behind {s.access_token_env} may not use customer {s.customer_id} / "
                f"account {s.account_id} ({what}): check customer_id and account_id in "
                "[settings], and the user's access to that account")
    return None
