"""The Microsoft-shaped faults the emulator injects on request (:class:`MicrosoftFaults`, a
mixin of :class:`~plugins.microsoft.emulator.MicrosoftAdsEmulator`): throttling (HTTP 429
or code 117), fault codes (credentials, access, expiry, headers, ids), 5xx, slow answers,
dropped connections, bodies that are not JSON, failed applies and refused refreshes. Each
queues a :class:`~connector.kit.Fault` with Microsoft's error body in the configured
envelope, or sets state the request handler reads (applies to fail).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from connector.kit import Fault
from plugins.microsoft.emulator_errors import (
    ad_api_fault,
    api_fault,
    internal_error,
    oauth_error,
    wrapped,
)


class MicrosoftFaults:
    """Fault injection for the Microsoft emulator; the emulator owns the state used here."""

    lock: threading.RLock
    envelope: str
    _apply_failures: int
    inject: Callable[..., Fault]  # connector.kit.Emulator.inject

    def throttle(self, *, http_429: bool = True, retry_after: float | None = None,
                 times: int = 1, path: str = "/CampaignManagement") -> Fault:
        """117 CallRateExceeded, as HTTP 429 or as HTTP 400 AdApiFaultDetail."""
        body = ad_api_fault(429 if http_429 else 400, 117)
        if self.envelope == "wrapped":
            body = wrapped(body)
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        return self.inject(status=body.status, body=body.body, headers=headers, times=times,
                           path=path)

    def fault_code(self, code: int, *, status: int = 401, times: int = 1,
                   path: str = "/CampaignManagement", operation: bool | None = None) -> Fault:
        """A fault with ``code`` (105 credentials, 106 access, 109 expiry, 116 headers,
        1029/1030 missing ids, 1102/1490 invalid ids...): an AdApiFaultDetail, or an
        ApiFaultDetail operation error when ``operation`` (default: for the 1xxx
        CampaignService codes), in the configured envelope."""
        if operation is None:
            operation = code >= 1000
        body = api_fault(code, status=status) if operation else ad_api_fault(status, code)
        if self.envelope == "wrapped":
            body = wrapped(body)
        return self.inject(status=status, body=body.body, times=times, path=path)

    def server_error(self, *, status: int = 500, times: int = 1,
                     path: str = "/CampaignManagement") -> Fault:
        """5xx with an AdCenterInternalErrorFault body."""
        return self.inject(status=status, body=internal_error(), times=times, path=path)

    def slow(self, delay: float, *, times: int = 1, path: str = "/CampaignManagement") -> Fault:
        """Answer late (past a client's timeout: a timeout)."""
        return self.inject(status=200, body={"PartialErrors": None}, delay=delay, times=times,
                           path=path)

    def drop(self, *, times: int = 1, path: str = "/CampaignManagement") -> Fault:
        """Close the connection without answering."""
        return self.inject(drop=True, times=times, path=path)

    def malformed(self, *, times: int = 1, path: str = "/CampaignManagement") -> Fault:
        """HTTP 200 with a body that is not JSON."""
        return self.inject(status=200, body="{\"PartialErrors\": [", times=times, path=path)

    def fail_apply(self, times: int = 1) -> None:
        """The next ``times`` Apply requests give every item 5612 OfflineConversionsApplyFailed."""
        with self.lock:
            self._apply_failures += times

    def refuse_refresh(self, *, times: int = 1) -> Fault:
        """The token endpoint answers ``invalid_grant``."""
        body = oauth_error("invalid_grant", "AADSTS70000: The refresh token was revoked.")
        return self.inject(status=400, body=body.body, times=times, path="/common/oauth2")
