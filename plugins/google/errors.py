"""Google's error answers, read and turned into what offramp does next.

Every Google API answers a failure with one JSON object (AIP-193)::

    {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "...",
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "...", "metadata": {"quota_limit": "..."}},
                           {"@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [{"field": "events[3]....", ...}]}]}}

:func:`read_error` reads it (whatever of it is there); :func:`classify` turns an
``events:ingest`` failure into the exception the core acts on. A 400 that names an event
(``events[N]...``) is handled by the destination itself: it rejects that event with
:func:`event_reason` and sends the rest again.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from connector.kit import BatchRejected, Fatal, Retryable
from connector.kit.http import retry_after

TYPE = "type.googleapis.com/google.rpc."
_EVENT = re.compile(r"^events\[(\d+)\]\.?(.*)$")
_QUOTED = re.compile(r'"[^"]*"')


@dataclass
class ApiError:
    """What a Google error answer says."""

    http: int
    status: str = ""
    message: str = ""
    reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[dict[str, str]] = field(default_factory=list)
    retry_delay: float | None = None

    def event(self) -> tuple[int, dict[str, str]] | None:
        """The first field violation that names an event: its index and the violation."""
        for violation in self.violations:
            match = _EVENT.match(violation.get("field", ""))
            if match:
                return int(match.group(1)), violation
        return None

    def fields(self) -> list[str]:
        return [v.get("field", "") for v in self.violations]

    def label(self) -> str:
        """``REASON at field: message``, with any quoted value masked."""
        reason = self.reason or self.status or f"HTTP {self.http}"
        where = f" at {self.fields()[0]}" if self.fields() and self.fields()[0] else ""
        return f"{reason}{where}: {mask(self.message) or 'no detail'}"


def mask(text: str) -> str:
    """``text`` with every double-quoted value replaced by ``"..."``: Google's
    transcoding errors quote the value they refused (``Invalid value at ..., "x"``),
    and a reject reason or an error must never carry a customer's value."""
    return _QUOTED.sub('"..."', text or "").strip()


def read_error(response: requests.Response) -> ApiError:
    """The error in ``response`` (a body that is not Google's shape gives what it can)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ApiError(response.status_code)
    out = ApiError(response.status_code, str(error.get("status") or ""),
                   str(error.get("message") or ""))
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        kind = str(detail.get("@type", ""))
        if kind == TYPE + "ErrorInfo":
            out.reason = out.reason or detail.get("reason")
            out.metadata.update({str(k): str(v) for k, v in
                                 (detail.get("metadata") or {}).items()})
        elif kind == TYPE + "BadRequest":
            out.violations += [v for v in detail.get("fieldViolations") or []
                               if isinstance(v, dict)]
        elif kind == TYPE + "RetryInfo":
            out.retry_delay = _seconds(detail.get("retryDelay"))
    return out


def _seconds(value: Any) -> float | None:
    """A protobuf Duration in JSON (``"30s"``, ``"1.5s"``) as seconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(value or ""))
    return float(match.group(1)) if match else None


def event_reason(violation: dict[str, str], error: ApiError) -> str:
    """The reject reason of an event Google refused: its reason, the field within the
    event, and Google's description (quoted values masked)."""
    match = _EVENT.match(violation.get("field", ""))
    where = match.group(2) if match and match.group(2) else "the event"
    reason = violation.get("reason") or error.reason or error.status or "INVALID_ARGUMENT"
    detail = mask(violation.get("description") or error.message)
    return f"Google refused the event ({reason}) at {where}: {detail or 'no detail'}"


def is_daily(error: ApiError) -> bool:
    """A 429 for the daily quota (``quota_limit`` ``...PerDayPerProject``)."""
    return "PerDay" in error.metadata.get("quota_limit", "")


def classify(response: requests.Response, error: ApiError, *, accounts: str,
             scope_hint: str) -> Exception:
    """The exception for a failed ``events:ingest`` (401s and 400s naming an event are
    the destination's own business; this is everything else).

    :param accounts: the accounts the job uses, as a 403 message names them.
    :param scope_hint: what to set when the credentials lack the datamanager scope.
    """
    status = response.status_code
    if status == 429:
        if is_daily(error):
            return Fatal(f"Google's daily quota ({error.metadata.get('quota_limit')}) is used "
                         "up for this Cloud project: the run stopped and the rest stays "
                         "pending; run the job again after the quota resets (midnight, "
                         "Pacific time), or ask Google for a larger quota")
        wait = retry_after(response) or error.retry_delay or (60.0 - time.time() % 60.0)
        return Retryable(f"Google's per-minute quota is used up ({error.label()})",
                         retry_after=wait, throttled=True)
    if status >= 500 or status == 408:
        return Retryable(f"Google answered HTTP {status} ({error.label()})",
                         retry_after=retry_after(response))
    if status == 403:
        if error.reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
            return Fatal(f"the access token lacks the datamanager scope: {scope_hint}")
        return Fatal(f"Google denied access to {accounts} ({error.label()}): give the "
                     "credentials' user or service account access to the operating account, "
                     "or set login_account_id to the manager account they reach it through")
    if status == 400:
        if any(f.startswith("destinations") for f in error.fields()):
            return Fatal(f"Google refused the job's destination ({error.label()}): check "
                         "operating_account_id, login_account_id and the conversion action "
                         "ids in [settings]")
        return BatchRejected(f"Google refused the request ({error.label()})")
    if status == 404:
        return Fatal(f"Google answered 404 for events:ingest ({error.label()}): check "
                     "base_url in [settings]")
    return Fatal(f"Google answered HTTP {status} ({error.label()})")
