"""Login, OAuth token, refresh on expiry and on 401 (retry once), fatal auth errors,
and secrets kept out of exceptions and logs."""

from __future__ import annotations

import base64
import logging

import pytest

from connector import Fatal, Fault
from tests.iqm.iqm_support import api_calls, campaigns

LIST = "/api/v3/conversion/list"


def test_login_sends_basic_client_credentials_host_and_password_grant(make, emu):
    make()
    (login,) = api_calls(emu, "/api/v3/ua/login")
    expected = base64.b64encode(f"{emu.CLIENT_ID}:{emu.CLIENT_SECRET}".encode()).decode()
    assert login.header("authorization") == f"Basic {expected}"
    assert login.header("x-iaa-host") == emu.HOST
    assert login.header("content-type") == "application/json"
    assert login.json() == {"grantType": "password", "email": emu.EMAIL,
                            "password": emu.PASSWORD}


def test_every_api_call_sends_bearer_token_and_workspace_id(make, emu):
    dest = make()
    token = dest.client.token
    later = [c for c in emu.calls if c.path.startswith("/api/v3/conversion")]
    assert later, "open() should have looked the conversion up"
    for call in later:
        assert call.header("authorization") == f"Bearer {token.access.reveal()}"
        assert call.header("x-iaa-ow-id") == str(emu.OW_ID)


def test_token_is_refreshed_before_it_expires_without_a_401(make, emu, clock):
    dest = make()
    first = dest.client.token.access.reveal()
    clock.advance(35999 - 30)  # inside the 60 s margin
    dest.deliver(campaigns(1001))
    assert dest.client.refreshes == 1 and emu.refreshes == 1
    assert dest.client.token.access.reveal() != first
    assert first not in emu.tokens  # the refresh invalidated the old token
    assert not [c for c in emu.calls if c.path == "/api/v3/conversion/assign-to/campaign"
                and c.header("authorization") == f"Bearer {first}"]


def test_401_mid_run_refreshes_and_retries_once(make, emu):
    dest = make()
    emu.expire_tokens()
    outcome = dest.deliver(campaigns(1001))
    assert outcome.rejected == {}
    assigns = api_calls(emu, "/api/v3/conversion/assign-to/campaign")
    assert len(assigns) == 2  # the 401, then the retry with the new token
    token = api_calls(emu, "/api/v3/ua/oauth/token")[-1]
    assert token.form()["grant_type"] == "refresh_token"
    assert 1001 in emu.conversion_named("Offline orders")[0].campaigns


def test_a_second_401_after_the_refresh_is_fatal(make, emu):
    dest = make()
    emu.inject(Fault(status=401, times=2, path="/api/v3/conversion/assign-to/campaign",
                     body={"success": False, "errorObjects": [{"error": "Invalid token"}]}))
    with pytest.raises(Fatal, match="refused a fresh token"):
        dest.deliver(campaigns(1001))
    assert len(api_calls(emu, "/api/v3/conversion/assign-to/campaign")) == 2


def test_a_refused_refresh_token_falls_back_to_a_full_login(make, emu):
    dest = make()
    emu.expire_tokens()
    emu.refresh_tokens.clear()
    dest.deliver(campaigns(1001))
    assert len(api_calls(emu, "/api/v3/ua/login")) == 2
    assert dest.client.logins == 2


def test_oauth_mode_uses_the_form_password_grant(make, emu):
    dest = make(auth="oauth")
    assert not api_calls(emu, "/api/v3/ua/login")
    (token,) = api_calls(emu, "/api/v3/ua/oauth/token")
    assert token.header("content-type") == "application/x-www-form-urlencoded"
    assert token.form() == {"grant_type": "password", "username": emu.EMAIL,
                            "password": emu.PASSWORD}
    assert dest.client.token.ow_id == emu.OW_ID


def test_account_on_hold_is_fatal_with_the_reason(make, emu):
    emu.hold()
    with pytest.raises(Fatal, match="on hold: The particular account") as info:
        make()
    assert "support@iqm.com" in str(info.value)


def test_account_put_on_hold_mid_run_stops_at_the_refresh(make, emu):
    dest = make()
    emu.hold()
    emu.expire_tokens()
    with pytest.raises(Fatal, match="on hold"):
        dest.deliver(campaigns(1001))


def test_user_not_allowed_in_workspace_is_fatal(make):
    with pytest.raises(Fatal, match="workspace_host") as info:
        make(workspace_host="someone-else.iqm.test")
    assert "not allowed to provided workspace" in str(info.value)


def test_bad_client_secret_is_fatal(make, monkeypatch):
    monkeypatch.setenv("IQM_CLIENT_SECRET", "wrong-client-secret-123")
    with pytest.raises(Fatal, match="client id/secret"):
        make()


def test_missing_env_var_says_which_to_set(make, monkeypatch):
    monkeypatch.delenv("IQM_PASSWORD")
    with pytest.raises(Exception, match="set the environment variable IQM_PASSWORD"):
        make()


def test_secrets_never_appear_in_exceptions_or_logs(make, emu, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = {"client secret": "client-secret-9f8e7d", "password": "hunter2-password-xyz"}
    monkeypatch.setenv("IQM_CLIENT_SECRET", secrets["client secret"])
    emu.clients[emu.CLIENT_ID] = secrets["client secret"]
    monkeypatch.setenv("IQM_PASSWORD", secrets["password"])
    emu.users[emu.EMAIL].password = secrets["password"]
    dest = make()
    emu.expire_tokens()
    dest.deliver(campaigns(1001))  # refresh path logs too
    tokens = [dest.client.token.access.reveal(), dest.client.token.refresh.reveal()]
    errors = []
    for workspace in ("elsewhere.iqm.test", emu.HOST):
        if workspace == emu.HOST:
            emu.hold()
        with pytest.raises(Fatal) as info:
            make(workspace_host=workspace)
        errors.append(f"{info.value} {info.value!r}")
    text = caplog.text + " ".join(errors) + repr(dest.client.credentials)
    for value in [*secrets.values(), emu.EMAIL, *tokens]:
        assert value not in text
    assert "Secret(env='IQM_PASSWORD')" in repr(dest.client.credentials)
