"""One authenticated JSON call to Campaign Management v13 REST, with token renewal.

Headers (msads ``bingads/service_client.py`` ``create_rest_headers``):
``Authorization: Bearer``, ``DeveloperToken``, ``CustomerId``, ``CustomerAccountId``.
An expired access token (code 109) is renewed through the OAuth refresh token when
``client_id`` and the refresh-token variable are set, then the request is sent once
more; otherwise the run stops with what to set.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import requests

from connector.kit import ConfigError, Fatal, Retryable
from connector.kit.http import send
from connector.kit.secrets import Secret, redact
from plugins.microsoft.faults import TokenExpired, batch_errors, classify, unwrap
from plugins.microsoft.settings import MicrosoftSettings

APPLY_PATH = "/CampaignManagement/v13/OfflineConversions/Apply"
REPORT_PATH = "/CampaignManagement/v13/OfflineConversionReport/QueryByGoalIds"

SecretReader = Callable[[str], Secret]


class MicrosoftClient:
    """Sends JSON requests for one customer and account; safe to share between threads.

    :param read_secret: reads an environment variable (raises ConfigError when unset).
    """

    def __init__(self, settings: MicrosoftSettings, http: requests.Session, *,
                 read_secret: SecretReader, timeout: float):
        self.settings = settings
        self.http = http
        self.timeout = timeout
        self._read_secret = read_secret
        self._lock = threading.Lock()
        self._developer_token = read_secret(settings.developer_token_env)
        self._refresh_token: Secret | None = None
        self._access_token: Secret | None = None
        self._generation = 0
        #: How many times the access token was renewed (for run info and tests).
        self.refreshes = 0

    # -- tokens -----------------------------------------------------------------------
    def can_refresh(self) -> bool:
        """True when ``client_id`` is set and the refresh-token variable holds a value."""
        if not self.settings.client_id:
            return False
        try:
            self._refresh_secret()
        except ConfigError:
            return False
        return True

    def _refresh_secret(self) -> Secret:
        if self._refresh_token is None:
            self._refresh_token = self._read_secret(self.settings.refresh_token_env)
        return self._refresh_token

    def prepare(self) -> None:
        """Read (or obtain) the access token now, so a missing variable stops the run early."""
        self._token()

    def _token(self) -> tuple[Secret, int]:
        with self._lock:
            if self._access_token is None:
                try:
                    self._access_token = self._read_secret(self.settings.access_token_env)
                except ConfigError:
                    if not self.can_refresh():
                        raise
                    self._renew_locked()
            assert self._access_token is not None
            return self._access_token, self._generation

    def renew(self, seen_generation: int) -> None:
        """Renew the access token unless another thread already did since ``seen_generation``."""
        with self._lock:
            if self._generation == seen_generation:
                self._renew_locked()

    def _renew_locked(self) -> None:
        s = self.settings
        if not s.client_id:
            raise Fatal(f"the access token in {s.access_token_env} expired (109 "
                        f"AuthenticationTokenExpired): set {s.access_token_env} to a fresh "
                        f"token, or set client_id in [settings] and {s.refresh_token_env} so "
                        "offramp can renew it")
        try:
            refresh = self._refresh_secret()
        except ConfigError:
            raise Fatal(f"the access token in {s.access_token_env} expired and no refresh token "
                        f"is set: set {s.refresh_token_env} (client_id is set) or a fresh "
                        f"{s.access_token_env}") from None
        form = {"grant_type": "refresh_token", "client_id": s.client_id,
                "refresh_token": refresh.reveal(), "scope": s.oauth_scope()}
        try:
            form["client_secret"] = self._read_secret(s.client_secret_env).reveal()
        except ConfigError:
            pass  # public (desktop) applications have no client secret
        response = send(self.http, "POST", s.oauth_url(), data=form, timeout=self.timeout)
        body = _json(response)
        if response.status_code >= 500:
            raise Retryable(f"the OAuth token endpoint failed (HTTP {response.status_code})")
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(token, str) or not token:
            error = body.get("error") if isinstance(body, dict) else None
            raise Fatal(f"Microsoft refused the refresh token in {s.refresh_token_env} "
                        f"({error or f'HTTP {response.status_code}'}): sign in again to get a "
                        f"new refresh token, or set {s.access_token_env} to a fresh access token")
        self._access_token = Secret(token, s.access_token_env)
        new_refresh = body.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh:
            self._refresh_token = Secret(new_refresh, s.refresh_token_env)
        self._generation += 1
        self.refreshes += 1

    # -- requests -----------------------------------------------------------------------
    def headers(self, token: Secret) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token.reveal()}",
            "DeveloperToken": self._developer_token.reveal(),
            "CustomerId": self.settings.customer_id,
            "CustomerAccountId": self.settings.account_id,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def post(self, path: str, body: str | bytes) -> dict[str, Any]:
        """POST ``body`` (JSON text) to ``path``; the answer's JSON object.

        An ``ApiFaultDetail`` that only carries ``BatchErrors`` is returned as
        ``{"PartialErrors": [...]}``: those are item errors, not a request failure.
        """
        data = body.encode() if isinstance(body, str) else body
        for attempt in (1, 2):
            token, generation = self._token()
            response = send(self.http, "POST", self.settings.api_base() + path, data=data,
                            headers=self.headers(token), timeout=self.timeout)
            parsed = _json(response)
            if response.status_code == 200:
                if not isinstance(parsed, dict):
                    raise Retryable("Microsoft Advertising answered HTTP 200 with a body that is "
                                    "not a JSON object")
                return parsed
            fault = unwrap(parsed)
            if batch_errors(fault) and not (fault.get("OperationErrors") or fault.get("Errors")):
                return {"PartialErrors": fault["BatchErrors"]}
            error = classify(response, self.settings, parsed)
            if isinstance(error, TokenExpired):
                if attempt == 2:
                    raise Fatal(f"Microsoft Advertising still reports an expired token after "
                                f"renewing it ({redact(str(error))}): check client_id and "
                                f"{self.settings.refresh_token_env}")
                self.renew(generation)
                continue
            raise error
        raise AssertionError("unreachable")


def _json(response: requests.Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None
