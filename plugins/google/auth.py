"""Access tokens for the Data Manager API, with google-auth.

Two kinds of credentials (``auth`` in ``[settings]``), both for the scope
``https://www.googleapis.com/auth/datamanager`` (no developer token):

* ``oauth``: an OAuth client id and secret and a refresh token, from environment
  variables: ``google.oauth2.credentials.Credentials``, built directly, because
  ``from_authorized_user_info`` always resets ``token_uri`` to Google's endpoint;
* ``service_account``: the path of a service-account key file, from an environment
  variable: ``google.oauth2.service_account.Credentials`` (a JWT-bearer grant to the key
  file's ``token_uri``).

``token_uri`` in the settings overrides the endpoint of either (the emulator's). Every
secret read (the client secret, the refresh token, the key) and every access token
issued is registered for scrubbing (:func:`connector.kit.secrets.remember`). Tokens are
refreshed when google-auth says they expired, and :meth:`Tokens.refresh_after` refreshes
once after a 401. Credentials are shared by every destination of the process that uses
the same ones (a run's threads, the after-run status polls, the next run), so a token is
fetched once an hour, not once per run.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from connector.kit import ConfigError, Fatal, Retryable, Secret
from connector.kit.secrets import remember
from plugins.google.settings import GOOGLE_TOKEN_URI, GoogleSettings

SCOPE = "https://www.googleapis.com/auth/datamanager"
SecretReader = Callable[[str], Secret]

_shared: dict[str, Any] = {}
_shared_lock = threading.Lock()


def forget_credentials() -> None:
    """Drop the credentials shared in this process (tests; a changed key file)."""
    with _shared_lock:
        _shared.clear()


class Tokens:
    """The job's credentials: :meth:`token` gives a valid access token, refreshing it
    when expired; safe to share between threads."""

    def __init__(self, settings: GoogleSettings, read_secret: SecretReader):
        self.settings = settings
        key, make = _credentials(settings, read_secret)
        with _shared_lock:
            if key not in _shared:
                _shared[key] = (make(), threading.Lock())
            self._creds, self._lock = _shared[key]
        #: Access tokens fetched by this object (for run info and tests).
        self.refreshes = 0

    def what_to_set(self) -> str:
        """The settings and environment variables that give the credentials."""
        s = self.settings
        if s.auth == "service_account":
            return (f"set {s.service_account_key_env} to the path of a service-account key "
                    "file whose account has access to the Google Ads account")
        return (f"set {s.client_id_env}, {s.client_secret_env} and {s.refresh_token_env} (a "
                f"refresh token granted the scope {SCOPE})")

    def token(self, http: requests.Session) -> str:
        with self._lock:
            if not self._creds.valid:
                self._refresh(http)
            return self._creds.token

    def refresh_after(self, rejected: str, http: requests.Session) -> str:
        """A new token after Google refused ``rejected`` (a 401), unless another thread
        already replaced it."""
        with self._lock:
            if self._creds.token == rejected or not self._creds.valid:
                self._refresh(http)
            return self._creds.token

    def _refresh(self, http: requests.Session) -> None:
        from google.auth import exceptions
        from google.auth.transport.requests import Request

        try:
            self._creds.refresh(Request(http))
        except exceptions.RefreshError as exc:
            detail = str(exc.args[0] if exc.args else exc)[:200]
            if getattr(exc, "retryable", False):
                raise Retryable(f"Google's token endpoint failed ({detail})") from None
            raise Fatal(f"Google refused the credentials ({detail}): "
                        f"{self.what_to_set()}") from None
        except exceptions.TransportError as exc:
            raise Retryable(f"could not reach Google's token endpoint "
                            f"({type(exc.__cause__ or exc).__name__})") from None
        if self._creds.token:
            remember(self._creds.token)
        self.refreshes += 1


def _credentials(s: GoogleSettings, read_secret: SecretReader) -> tuple[str, Callable[[], Any]]:
    """A key naming the credentials (a hash: no secret in it) and a function making them."""
    if s.auth == "service_account":
        info = _key_file(s.service_account_key_env)
        key = _digest("service_account", s.token_uri, info["client_email"],
                      info["private_key"])

        def make() -> Any:
            from google.oauth2 import service_account

            try:
                creds = service_account.Credentials.from_service_account_info(
                    info, scopes=[SCOPE])
            except (ValueError, KeyError) as exc:
                raise ConfigError(f"the key file in {s.service_account_key_env} is not a "
                                  f"usable service-account key ({exc})") from None
            return creds.with_token_uri(s.token_uri) if s.token_uri else creds

        return key, make
    client_id = read_secret(s.client_id_env).reveal()
    client_secret = read_secret(s.client_secret_env).reveal()
    refresh_token = read_secret(s.refresh_token_env).reveal()
    token_uri = s.token_uri or GOOGLE_TOKEN_URI
    key = _digest("oauth", token_uri, client_id, client_secret, refresh_token)

    def make_oauth() -> Any:
        from google.oauth2.credentials import Credentials

        return Credentials(None, refresh_token=refresh_token, token_uri=token_uri,
                           client_id=client_id, client_secret=client_secret, scopes=[SCOPE])

    return key, make_oauth


def _digest(*parts: str | None) -> str:
    return hashlib.sha256("\0".join(p or "" for p in parts).encode()).hexdigest()


def _key_file(env: str) -> dict[str, Any]:
    """The service-account key file named by ``env``; its private key is remembered as
    a secret."""
    path = os.environ.get(env, "").strip()
    if not path:
        raise ConfigError(f"the google destination needs a service-account key: set {env} "
                          "to the path of its JSON key file")
    try:
        info = json.loads(Path(path).expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{env} names a key file that cannot be read "
                          f"({type(exc).__name__}): set it to the JSON key file's path") from None
    except ValueError:
        raise ConfigError(f"{env} names a file that is not JSON: set it to the service "
                          "account's JSON key file") from None
    if not isinstance(info, dict) or info.get("type") != "service_account" or not all(
            info.get(k) for k in ("client_email", "private_key", "token_uri")):
        raise ConfigError(f"{env} names a JSON file that is not a service-account key "
                          "(type service_account, with client_email, private_key, token_uri)")
    remember(info["private_key"])
    for line in str(info["private_key"]).splitlines():
        if len(line) >= 16 and "PRIVATE KEY" not in line:
            remember(line)
    if info.get("private_key_id"):
        remember(str(info["private_key_id"]))
    return info
