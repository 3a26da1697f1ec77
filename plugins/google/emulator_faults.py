"""The Google-shaped faults the emulator injects on request (:class:`GoogleFaults`, a mixin
of :class:`~plugins.google.emulator.GoogleEmulator`): expired credentials, denied accounts,
exhausted quotas, server errors, timeouts, dropped connections, lost answers, expired or
revoked tokens and events that fail processing. Each queues a
:class:`~connector.kit.Fault` with Google's error body, or sets state the request handler
reads (answers to lose, tokens, poisoned transaction ids).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from connector.kit import Fault
from plugins.google import emulator_errors as errors
from plugins.google.emulator_auth import DEFAULT_ACCOUNT, DEFAULT_REFRESH_TOKEN, Authority
from plugins.google.emulator_status import Processing


class GoogleFaults:
    """Fault injection for the Google emulator; the emulator owns the state used here."""

    lock: threading.RLock
    clock: Callable[[], float]
    auth: Authority
    processing: Processing
    _lose_responses: int
    inject: Callable[..., Fault]  # connector.kit.Emulator.inject

    def _fail(self, error: errors.GoogleError, times: int, path: str,
              delay: float = 0.0) -> Fault:
        return self.inject(Fault(status=error.status, body=error.body(),
                                 headers=dict(error.headers), times=times, path=path,
                                 delay=delay))

    def unauthenticated(self, times: int = 1, path: str = "/v1/") -> Fault:
        return self._fail(errors.unauthenticated("ACCESS_TOKEN_EXPIRED", errors.INGEST_METHOD),
                          times, path)

    def permission_denied(self, account: str = DEFAULT_ACCOUNT, times: int = 1,
                          path: str = "/v1/") -> Fault:
        return self._fail(errors.permission_denied(f"accountTypes/GOOGLE_ADS/accounts/{account}"),
                          times, path)

    def rate_limit(self, retry_after: float | None = 30, daily: bool = False, times: int = 1,
                   path: str = "/v1/", operation: str = "mutate") -> Fault:
        """429 RESOURCE_EXHAUSTED: per minute (RetryInfo, Retry-After) or the daily quota."""
        error = errors.quota_exceeded(operation, "day" if daily else "minute",
                                      None if daily else retry_after)
        return self._fail(error, times, path)

    def server_error(self, status: int = 500, times: int = 1, path: str = "/v1/") -> Fault:
        """500 INTERNAL, 503 UNAVAILABLE or 504 DEADLINE_EXCEEDED."""
        makers = {500: errors.internal, 503: errors.unavailable, 504: errors.deadline_exceeded}
        if status not in makers:
            raise ValueError(f"server_error status must be one of {sorted(makers)}, not {status}")
        return self._fail(makers[status](), times, path)

    def timeout(self, seconds: float, times: int = 1, path: str = "/v1/") -> Fault:
        """Hold the next requests, then close the connection unanswered and unprocessed."""
        return self.inject(Fault(delay=seconds, drop=True, times=times, path=path))

    def drop_connections(self, times: int = 1, path: str = "/v1/") -> Fault:
        return self.inject(Fault(drop=True, times=times, path=path))

    def lose_responses(self, times: int = 1) -> None:
        """Process the next requests, then drop the connection instead of answering."""
        with self.lock:
            self._lose_responses += times

    def expire_token(self, token: str | None = None) -> None:
        """Expire one access token, or all of them (static ones included)."""
        with self.lock:
            if token is None:
                self.auth.expire_all(self.clock())
            else:
                self.auth.expire(token, self.clock())

    def revoke_refresh_token(self, refresh_token: str = DEFAULT_REFRESH_TOKEN) -> None:
        with self.lock:
            self.auth.revoked.add(refresh_token)

    def fail_event(self, transaction_id: str, reason: str = "INVALID_CLICK") -> None:
        """Make every later event with this transaction id fail processing with ``reason``
        (a ``ProcessingErrorReason``, with or without its prefix), until clear_faults()."""
        with self.lock:
            self.processing.poisoned[str(transaction_id)] = reason
