"""Calls to the Data Manager API: ``events:ingest`` and ``requestStatus:retrieve``, with
the job's access token (refreshed once after a 401), paced to ``requests_per_minute``.

The pacing is the destination's own, not the core's: after Google refuses an event by
name, the destination sends the rest of the request again from within one delivery, and
those requests count against the same per-minute quota as the first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from connector.kit import Fatal, Retryable
from connector.kit.http import retry_after, send
from plugins.google.auth import SCOPE, Tokens
from plugins.google.errors import read_error
from plugins.google.settings import GoogleSettings

INGEST = "/v1/events:ingest"
STATUS = "/v1/requestStatus:retrieve"


class Pacer:
    """Spaces request starts at least ``60 / per_minute`` seconds apart, across threads.
    ``sleep`` and ``clock`` are injectable (tests)."""

    def __init__(self, per_minute: float, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.interval = 60.0 / per_minute
        self.sleep, self.clock = sleep, clock
        self._next = 0.0
        self._lock = threading.Lock()
        #: Seconds waited so far.
        self.waited = 0.0

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.interval
            self.waited += start - now
        if start > now:
            self.sleep(start - now)


class Client:
    """The API as one job uses it; safe to share between threads."""

    def __init__(self, settings: GoogleSettings, http: requests.Session, tokens: Tokens,
                 *, pacer: Pacer | None = None):
        self.settings, self.http, self.tokens = settings, http, tokens
        self.pacer = pacer or Pacer(settings.requests_per_minute)

    def accounts(self) -> str:
        """The job's accounts, as errors name them."""
        s = self.settings
        login = f" (through login account {s.login_account_id})" if s.login_account_id else ""
        return f"operating account {s.operating_account_id}{login}"

    def scope_hint(self) -> str:
        return f"grant the scope {SCOPE}; {self.tokens.what_to_set()}"

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call with the current token; after a 401, one more with a new token; a
        second 401 stops the job."""
        url = self.settings.base_url + path
        token = self.tokens.token(self.http)
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            response = send(self.http, method, url, timeout=self.settings.timeout,
                            headers=headers, **kwargs)
            if response.status_code != 401:
                return response
            if attempt == 1:
                token = self.tokens.refresh_after(token, self.http)
        raise Fatal(f"Google refused the access token right after a refresh "
                    f"({read_error(response).label()}): {self.tokens.what_to_set()}")

    def ingest(self, body: bytes) -> requests.Response:
        """POST one ``IngestEventsRequest`` (paced); the answer, whatever it is."""
        self.pacer.wait()
        return self._call("POST", INGEST, data=body)

    def retrieve(self, request_id: str, *, sleep: Callable[[float], None] = time.sleep,
                 attempts: int = 5) -> dict[str, Any]:
        """``requestStatus:retrieve`` for one request id: the answer's JSON. Throttling
        and server errors are waited out (``attempts`` times); other errors raise
        :class:`Fatal` naming Google's reason."""
        for attempt in range(1, attempts + 1):
            try:
                response = self._call("GET", STATUS, params={"requestId": request_id})
            except Retryable as exc:
                if attempt == attempts:
                    raise Fatal(f"requestStatus:retrieve kept failing: {exc.reason}") from None
                sleep(min(60.0, 2.0 ** attempt))
                continue
            if response.ok:
                answer = response.json()
                return answer if isinstance(answer, dict) else {}
            error = read_error(response)
            if (response.status_code == 429 or response.status_code >= 500) \
                    and attempt < attempts:
                sleep(retry_after(response) or error.retry_delay or min(60.0, 2.0 ** attempt))
                continue
            raise Fatal(f"requestStatus:retrieve for request {request_id} failed "
                        f"({error.label()})")
        raise AssertionError("unreachable")
