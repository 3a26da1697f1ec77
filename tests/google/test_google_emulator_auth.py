"""Authentication: bearer checks on the API, the token endpoint's two grants, expiry on the
emulator clock, and google-auth talking to the emulator (when google-auth is installed)."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from plugins.google.emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
)
from plugins.google.emulator_auth import SCOPE

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def token_request(emu, **form) -> requests.Response:
    return requests.post(f"{emu.url}/token", data=form, timeout=5)


def refresh(emu, **changes) -> requests.Response:
    form = {"grant_type": "refresh_token", "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET, "refresh_token": DEFAULT_REFRESH_TOKEN}
    form.update(changes)
    return token_request(emu, **form)


@pytest.mark.parametrize("header, reason", [
    (None, "CREDENTIALS_MISSING"),
    ("Basic abc", "CREDENTIALS_MISSING"),
    ("Bearer ", "CREDENTIALS_MISSING"),
    ("Bearer ya29.made-up", "ACCESS_TOKEN_TYPE_UNSUPPORTED")])
def test_a_missing_or_unknown_token_is_401(emu, make_body, detail, header, reason):
    headers = {"Authorization": header} if header else {}
    response = requests.post(f"{emu.url}/v1/events:ingest", json=make_body(), headers=headers,
                             timeout=5)
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")
    info = detail(response, "ErrorInfo")
    assert info["reason"] == reason and info["domain"] == "googleapis.com"
    assert info["metadata"]["service"] == "datamanager.googleapis.com"
    assert "invalid_token" in response.headers["WWW-Authenticate"]
    assert emu.records() == []


def test_the_refresh_grant_issues_a_token_that_works(emu, ingest, make_body):
    response = refresh(emu)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"access_token", "expires_in", "scope", "token_type"}
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3599
    assert answer["scope"] == SCOPE
    assert ingest(make_body(), token=answer["access_token"]).status_code == 200
    assert emu.counts["tokens_issued"] == 1


@pytest.mark.parametrize("changes, status, error", [
    ({"client_id": "other.apps.googleusercontent.com"}, 401, "invalid_client"),
    ({"client_secret": "wrong"}, 401, "invalid_client"),
    ({"refresh_token": "1//made-up"}, 400, "invalid_grant"),
    ({"scope": "https://www.googleapis.com/auth/adwords"}, 400, "invalid_scope"),
    ({"grant_type": "password"}, 400, "unsupported_grant_type")])
def test_refresh_grant_errors(emu, changes, status, error):
    response = refresh(emu, **changes)
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["error_description"]


def test_a_revoked_refresh_token(emu):
    emu.revoke_refresh_token()
    assert refresh(emu).json()["error"] == "invalid_grant"


def test_issued_tokens_expire_on_the_emulator_clock(emu, ingest, make_body, clock, detail):
    token = refresh(emu).json()["access_token"]
    clock.advance(3598)
    assert ingest(make_body(), token=token).status_code == 200
    clock.advance(1)
    response = ingest(make_body([]), token=token)
    assert response.status_code == 401
    assert detail(response, "ErrorInfo")["reason"] == "ACCESS_TOKEN_EXPIRED"


def test_expire_token_and_reset(emu, ingest, make_body):
    emu.expire_token("offramp-emulator-token")
    assert ingest(make_body()).status_code == 401
    emu.reset()
    assert ingest(make_body()).status_code == 200


def test_a_token_without_the_datamanager_scope_is_403(emu, ingest, make_body, detail):
    emu.add_client("c2", "s2", "r2", scopes=["https://www.googleapis.com/auth/adwords"])
    token = refresh(emu, client_id="c2", client_secret="s2", refresh_token="r2")
    response = ingest(make_body(), token=token.json()["access_token"])
    assert response.status_code == 403
    assert detail(response, "ErrorInfo")["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


def test_the_status_route_needs_a_token_too(emu, ingest, make_body, retrieve):
    request_id = ingest(make_body()).json()["requestId"]
    assert retrieve(request_id, token=None).status_code == 401


# -- the JWT-bearer grant, with assertions signed here ---------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(info: dict, **claims) -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    now = int(time.time())
    payload = {"iss": info["client_email"], "aud": "https://oauth2.googleapis.com/token",
               "scope": SCOPE, "iat": now, "exp": now + 3600}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    head = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    key = serialization.load_pem_private_key(info["private_key"].encode(), None)
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(signature)}"


@pytest.fixture
def service_account(emu):
    pytest.importorskip("cryptography")
    return emu.add_service_account("sa@project.iam.gserviceaccount.com")


def test_the_jwt_grant(emu, ingest, make_body, service_account):
    response = token_request(emu, grant_type=JWT_GRANT, assertion=sign(service_account))
    assert response.status_code == 200, response.text
    assert ingest(make_body(), token=response.json()["access_token"]).status_code == 200


def test_the_jwt_audience_may_be_the_emulator_itself(emu, service_account):
    assertion = sign(service_account, aud=emu.token_uri())
    assert token_request(emu, grant_type=JWT_GRANT, assertion=assertion).status_code == 200


@pytest.mark.parametrize("claims, error, text", [
    ({"aud": "https://example.com/token"}, "invalid_grant", "audience"),
    ({"iat": 0, "exp": 3600}, "invalid_grant", "short-lived"),
    ({"exp": int(time.time()) + 7200}, "invalid_grant", "short-lived"),
    ({"iss": "nobody@project.iam.gserviceaccount.com"}, "invalid_grant", "account"),
    ({"scope": None}, "invalid_scope", "scope"),
])
def test_jwt_claims_are_checked(emu, service_account, claims, error, text):
    response = token_request(emu, grant_type=JWT_GRANT, assertion=sign(service_account, **claims))
    assert response.status_code == 400
    assert response.json()["error"] == error and text in response.json()["error_description"]


def test_a_jwt_signed_by_another_key_is_refused(emu, service_account):
    other = emu.add_service_account("other@project.iam.gserviceaccount.com")
    forged = sign(other, iss=service_account["client_email"])
    response = token_request(emu, grant_type=JWT_GRANT, assertion=forged)
    assert response.json() == {"error": "invalid_grant",
                               "error_description": "Invalid JWT Signature."}
    garbage = token_request(emu, grant_type=JWT_GRANT, assertion="not.a.jwt")
    assert garbage.json()["error"] == "invalid_grant"


# -- google-auth against the emulator ---------------------------------------------------------

def test_google_auth_service_account_flow(emu, ingest, make_body, service_account):
    pytest.importorskip("google.auth")
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account as sa

    credentials = sa.Credentials.from_service_account_info(service_account, scopes=[SCOPE])
    assert not credentials.valid
    credentials.refresh(Request())
    assert credentials.valid and credentials.token.startswith("ya29.emu-")
    assert ingest(make_body(), token=credentials.token).status_code == 200


def test_google_auth_user_credentials_flow(emu, ingest, make_body):
    pytest.importorskip("google.auth")
    from google.auth.transport.requests import Request
    from google.oauth2.credentials import Credentials

    credentials = Credentials(None, refresh_token=DEFAULT_REFRESH_TOKEN,
                              token_uri=emu.token_uri(), client_id=DEFAULT_CLIENT_ID,
                              client_secret=DEFAULT_CLIENT_SECRET, scopes=[SCOPE])
    credentials.refresh(Request())
    assert credentials.valid and not credentials.expired
    assert ingest(make_body(), token=credentials.token).status_code == 200


def test_google_auth_session_refreshes_after_a_401(emu, make_body, clock):
    pytest.importorskip("google.auth")
    from google.auth.transport.requests import AuthorizedSession
    from google.oauth2.credentials import Credentials

    credentials = Credentials(None, refresh_token=DEFAULT_REFRESH_TOKEN,
                              token_uri=emu.token_uri(), client_id=DEFAULT_CLIENT_ID,
                              client_secret=DEFAULT_CLIENT_SECRET, scopes=[SCOPE])
    session = AuthorizedSession(credentials)
    url = f"{emu.url}/v1/events:ingest"
    assert session.post(url, json=make_body(), timeout=5).status_code == 200
    first = credentials.token
    clock.advance(4000)  # the emulator's tokens are dead; google-auth still thinks not
    assert credentials.valid
    response = session.post(url, json=make_body(), timeout=5)
    assert response.status_code == 200 and credentials.token != first
    assert emu.counts["tokens_issued"] == 2
