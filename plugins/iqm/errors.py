"""IQM's answers turned into offramp's errors.

IQM's v3 envelope is ``{"success": true, "data": ...}``; failures are
``{"success": false, "errorObjects": [{"error", "reason", "field"}]}`` with a
status among 400, 401, 403, 408, 412, 422, 429 and 500 ([IQM-DOCS]
rest-api-reference.mdx). This module reads those and classifies them:

* 429: :class:`~connector.Retryable` ``throttled=True`` (``Retry-After`` when sent);
* 408, 5xx, non-JSON answers: :class:`~connector.Retryable`;
* an account on hold, a user not allowed in the workspace, 401 after a fresh
  login, 403: :class:`~connector.Fatal`;
* 400/412/422 and other refusals: :class:`Refused`, which the caller turns into
  per-event rejections or a configuration error.

Every message passes through :func:`connector.kit.secrets.redact`.
"""

from __future__ import annotations

from typing import Any

import requests

from connector.kit import Fatal, Retryable
from connector.kit.http import retry_after
from connector.kit.secrets import redact

ON_HOLD = "on hold"
NOT_IN_WORKSPACE = "not allowed to provided workspace"


class Refused(Exception):
    """IQM refused a request for a reason a retry will not fix (a validation error).

    :param status: the HTTP status.
    :param messages: the ``errorObjects`` as readable lines.
    :param fields: the ``field`` of each error object that named one.
    """

    def __init__(self, what: str, status: int, messages: list[str], fields: list[str]):
        self.what = what
        self.status = status
        self.messages = messages
        self.fields = fields
        detail = "; ".join(messages) or "no reason given"
        super().__init__(redact(f"IQM refused {what} ({status}): {detail}"))

    @property
    def detail(self) -> str:
        return redact("; ".join(self.messages) or f"HTTP {self.status}")


def body_of(response: requests.Response) -> Any:
    """The decoded JSON body, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def messages_of(body: Any) -> tuple[list[str], list[str]]:
    """Readable lines and field names from an error envelope (``errorObjects``)."""
    lines: list[str] = []
    fields: list[str] = []
    if not isinstance(body, dict):
        return lines, fields
    objects = body.get("errorObjects") or []
    if isinstance(objects, dict):
        objects = [objects]
    for obj in objects if isinstance(objects, list) else []:
        if not isinstance(obj, dict):
            lines.append(str(obj))
            continue
        parts = [str(obj[k]) for k in ("error", "reason") if obj.get(k)]
        if obj.get("field"):
            fields.append(str(obj["field"]))
            parts.append(f"(field {obj['field']})")
        if parts:
            lines.append(" ".join(parts))
    # OAuth-style answers: {"error": "invalid_grant", "error_description": "..."}
    if not lines and body.get("error"):
        lines.append(" ".join(str(body[k]) for k in ("error", "error_description") if body.get(k)))
    return [redact(line) for line in lines], fields


def on_hold(body: Any) -> str | None:
    """The reason when the answer says the account is on hold (login 400), else None."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    if isinstance(data, dict) and str(data.get("status", "")).lower() == ON_HOLD:
        support = data.get("supportEmail") or "support@iqm.com"
        reason = data.get("reason") or "no reason given"
        return redact(f"the IQM account is on hold: {reason} Contact {support}; nothing is "
                      "sent until IQM lifts the hold.")
    return None


def classify(response: requests.Response, what: str) -> Exception:
    """The exception for a failed answer (status >= 400 or ``success: false``)."""
    status = response.status_code
    body = body_of(response)
    lines, fields = messages_of(body)
    detail = "; ".join(lines) or f"HTTP {status}"
    if status == 429:
        return Retryable(f"IQM is rate limiting {what} (429; IQM allows 20 requests a minute)",
                         retry_after=retry_after(response), throttled=True)
    if status == 408 or status >= 500:
        return Retryable(redact(f"IQM answered {status} to {what}: {detail}"))
    held = on_hold(body)
    if held:
        return Fatal(held)
    if NOT_IN_WORKSPACE in detail.lower():
        return Fatal(redact(f"IQM refused the login: {detail}. Check the user in IQM_USERNAME "
                            "(username_env) and that workspace_host is that user's workspace."))
    if status == 401:
        return Fatal(redact(f"IQM refused the credentials for {what} (401: {detail}). Check the "
                            "client id/secret and username/password environment variables."))
    if status == 403:
        return Fatal(redact(f"IQM forbids {what} (403: {detail}). Check that the user may use "
                            "this workspace (ow_id, workspace_host) and manage conversions."))
    return Refused(what, status, lines, fields)


def data_of(response: requests.Response, what: str) -> Any:
    """The ``data`` of a successful v3 envelope; raises the classified error otherwise."""
    if response.status_code >= 400:
        raise classify(response, what)
    body = body_of(response)
    if not isinstance(body, dict):
        raise Retryable(f"IQM answered {what} with something that is not JSON "
                        f"(HTTP {response.status_code}); will retry")
    if body.get("success") is False:
        raise classify(response, what)
    return body.get("data")
