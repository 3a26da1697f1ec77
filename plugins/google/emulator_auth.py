"""The emulator's OAuth 2.0 token endpoint and its access tokens.

``POST /token`` takes the two grants google-auth sends (RFC 6749 section 6 and RFC 7523):

* ``grant_type=refresh_token`` with ``client_id``, ``client_secret``, ``refresh_token``
  (``google.oauth2.credentials.Credentials.refresh``, ``oauth2/_client.refresh_grant``);
* ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` with ``assertion``: an RS256
  JWT signed with a service account's key, claims ``iss`` (the account's email),
  ``aud`` (google-auth always puts ``https://oauth2.googleapis.com/token`` there, whatever
  the key file's ``token_uri``), ``scope``, ``iat``, ``exp`` (one hour)
  (``google.oauth2.service_account.Credentials._make_authorization_grant_assertion``).

Both answer ``{"access_token", "expires_in", "token_type": "Bearer", "scope"}``; errors are
``{"error", "error_description"}`` (RFC 6749 section 5.2). Tokens expire after
``lifetime`` seconds of the emulator's clock. The signature is checked with the
``cryptography`` package (google-auth's own dependency), imported only when a service
account is used.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from connector.kit import Request, Response
from plugins.google import emulator_errors as errors

SCOPE = "https://www.googleapis.com/auth/datamanager"
#: The emulator's fixtures: a static access token, an OAuth client with its refresh
#: token, and the account they may use.
DEFAULT_TOKEN = "offramp-emulator-token"
DEFAULT_CLIENT_ID = "offramp-emulator.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "offramp-emulator-secret"
DEFAULT_REFRESH_TOKEN = "offramp-emulator-refresh-token"
DEFAULT_ACCOUNT = "1234567890"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
DEFAULT_LIFETIME = 3599
MAX_ASSERTION_LIFETIME = 3600
CLOCK_SKEW = 300


@dataclass
class Token:
    subject: str
    scopes: frozenset[str]
    expires_at: float | None


@dataclass
class Client:
    """An OAuth client (id and secret) and the refresh tokens it was granted."""

    client_id: str
    client_secret: str
    refresh_tokens: dict[str, frozenset[str]] = field(default_factory=dict)


class Authority:
    """Issues and checks access tokens. Not thread-safe: the emulator holds its lock."""

    def __init__(self, lifetime: float = DEFAULT_LIFETIME):
        self.lifetime = lifetime
        self.clients: dict[str, Client] = {}
        self.service_accounts: dict[str, Any] = {}  # email -> public key
        self.tokens: dict[str, Token] = {}
        self.static: dict[str, frozenset[str]] = {}
        self.revoked: set[str] = set()
        self.issued = 0

    # -- configuration ---------------------------------------------------------------
    def add_client(self, client_id: str, client_secret: str, refresh_token: str,
                   scopes: tuple[str, ...] = (SCOPE,)) -> None:
        client = self.clients.setdefault(client_id, Client(client_id, client_secret))
        client.client_secret = client_secret
        client.refresh_tokens[refresh_token] = frozenset(scopes)

    def add_service_account(self, email: str, public_key_pem: bytes | str) -> None:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        data = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        self.service_accounts[email] = load_pem_public_key(data)

    def add_static(self, token: str, scopes: tuple[str, ...] = (SCOPE,)) -> None:
        """A token that never expires (until :meth:`expire`; :meth:`forget` revives it)."""
        self.static[token] = frozenset(scopes)
        self.tokens[token] = Token("static", frozenset(scopes), None)

    def issue(self, subject: str, scopes: frozenset[str], now: float) -> str:
        token = "ya29.emu-" + secrets.token_urlsafe(24)
        self.tokens[token] = Token(subject, scopes, now + self.lifetime)
        self.issued += 1
        return token

    def expire(self, token: str, now: float) -> None:
        if token in self.tokens:
            self.tokens[token].expires_at = now - 1
        else:
            self.tokens[token] = Token("unknown", frozenset(), now - 1)

    def forget(self) -> None:
        """Drop issued tokens, their count and revocations; static tokens live again."""
        self.revoked.clear()
        self.issued = 0
        self.tokens = {t: Token("static", scopes, None) for t, scopes in self.static.items()}

    def expire_all(self, now: float) -> None:
        for token in self.tokens.values():
            token.expires_at = now - 1

    # -- the API side ------------------------------------------------------------------
    def check(self, request: Request, now: float, method: str) -> Token:
        """The bearer token's grant, or the API's 401/403 error."""
        header = request.header("authorization") or ""
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise errors.unauthenticated("CREDENTIALS_MISSING", method)
        token = self.tokens.get(credential)
        if token is None:
            raise errors.unauthenticated("ACCESS_TOKEN_TYPE_UNSUPPORTED", method)
        if token.expires_at is not None and now >= token.expires_at:
            raise errors.unauthenticated("ACCESS_TOKEN_EXPIRED", method)
        if SCOPE not in token.scopes:
            raise errors.insufficient_scopes(method)
        return token

    # -- the token endpoint --------------------------------------------------------------
    def token_endpoint(self, request: Request, now: float, own_uri: str) -> Response:
        if request.method != "POST":
            return errors.oauth_error(405, "invalid_request", "Use POST.")
        try:
            if "json" in (request.header("content-type") or "").lower():
                form = {k: str(v) for k, v in (request.json() or {}).items()}
            else:
                form = request.form()
        except (ValueError, UnicodeDecodeError, AttributeError):
            return errors.oauth_error(400, "invalid_request", "The request body is malformed.")
        grant = form.get("grant_type")
        if grant == "refresh_token":
            return self._refresh_grant(form, now)
        if grant == JWT_GRANT:
            return self._jwt_grant(form.get("assertion", ""), now, own_uri)
        return errors.oauth_error(400, "unsupported_grant_type", "Invalid grant_type: "
                                  f"{(grant or '')[:60]}")

    def _grant(self, subject: str, scopes: frozenset[str], now: float) -> Response:
        token = self.issue(subject, scopes, now)
        return Response(200, {"access_token": token, "expires_in": int(self.lifetime),
                              "scope": " ".join(sorted(scopes)), "token_type": "Bearer"})

    def _refresh_grant(self, form: dict[str, str], now: float) -> Response:
        client = self.clients.get(form.get("client_id", ""))
        if client is None:
            return errors.oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if form.get("client_secret") != client.client_secret:
            return errors.oauth_error(401, "invalid_client", "Unauthorized")
        refresh = form.get("refresh_token", "")
        if refresh not in client.refresh_tokens or refresh in self.revoked:
            return errors.oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        granted = client.refresh_tokens[refresh]
        asked = frozenset(form.get("scope", "").split()) or granted
        if not asked <= granted:
            return errors.oauth_error(400, "invalid_scope",
                                      "Some requested scopes were invalid.")
        return self._grant(f"client:{client.client_id}", asked, now)

    def _jwt_grant(self, assertion: str, now: float, own_uri: str) -> Response:
        try:
            header, claims, signed, signature = _split_jwt(assertion)
        except ValueError:
            return errors.oauth_error(400, "invalid_grant", "Invalid JWT: malformed assertion.")
        key = self.service_accounts.get(claims.get("iss", ""))
        if key is None:
            return errors.oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256" or not _verify_rs256(key, signed, signature):
            return errors.oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") not in (GOOGLE_TOKEN_URI, own_uri):
            return errors.oauth_error(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int | float) or not isinstance(exp, int | float) or \
                exp - iat > MAX_ASSERTION_LIFETIME or iat > now + CLOCK_SKEW or exp < now:
            return errors.oauth_error(
                400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 "
                "minutes) and in a reasonable timeframe. Check your iat and exp values in the "
                "JWT claim.")
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes:
            return errors.oauth_error(400, "invalid_scope",
                                      "Invalid OAuth scope or ID token audience provided.")
        return self._grant(f"service_account:{claims['iss']}", scopes, now)


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _split_jwt(assertion: str) -> tuple[dict, dict, bytes, bytes]:
    parts = assertion.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    try:
        header, claims = json.loads(_b64(parts[0])), json.loads(_b64(parts[1]))
        signature = _b64(parts[2])
    except (ValueError, TypeError) as exc:
        raise ValueError("not a JWT") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("not a JWT")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature


def _verify_rs256(key: Any, signed: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


def new_service_account(email: str, token_uri: str) -> tuple[dict[str, str], bytes]:
    """A fresh RSA key as a service-account key file (the JSON google-auth reads) and its
    public key in PEM, for :meth:`Authority.add_service_account`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    info = {"type": "service_account", "project_id": "offramp-emulator",
            "private_key_id": secrets.token_hex(20), "private_key": private_pem,
            "client_email": email, "client_id": str(secrets.randbelow(10 ** 21)),
            "token_uri": token_uri}
    return info, public_pem
