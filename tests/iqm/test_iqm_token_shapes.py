"""The two documented shapes of IQM's token answer, the workspace id when the answer
has none, and refresh with and without rotation of the refresh token.

IQM's authentication quickstart shows the OAuth answer wrapped in ``{success, data}``
with ``owId``; its user API page shows it unwrapped, without ``owId``, and so do both
refresh samples. Neither says whether a refresh rotates the refresh token.
"""

from __future__ import annotations

import json

import pytest
import requests

from connector import Fatal
from tests.iqm.iqm_support import api_calls, campaigns

TOKEN = "/api/v3/ua/oauth/token"
OW_ID = "/api/v3/ua/user/ow-id"


def test_unwrapped_answer_without_owid_reads_the_workspace_id(make, emu):
    assert emu.oauth_shape == "unwrapped"  # the user API page: the emulator's default
    dest = make(auth="oauth")
    assert dest.client.token.ow_id == emu.OW_ID
    (lookup,) = api_calls(emu, OW_ID)
    assert lookup.header("authorization") == f"Bearer {dest.client.token.access.reveal()}"
    assert lookup.header("x-iaa-ow-id") is None  # not known yet
    assert dest.deliver(campaigns(1001)).rejected == {}


def test_wrapped_answer_with_owid_needs_no_lookup(make, emu):
    emu.oauth_shape = "wrapped"  # the authentication quickstart
    dest = make(auth="oauth")
    assert dest.client.token.ow_id == emu.OW_ID
    assert api_calls(emu, OW_ID) == []
    assert dest.deliver(campaigns(1001)).rejected == {}


def test_the_ow_id_setting_spares_the_lookup(make, emu):
    dest = make(auth="oauth", ow_id=emu.OW_ID)
    assert dest.client.token.ow_id == emu.OW_ID
    assert api_calls(emu, OW_ID) == []


def test_a_failed_lookup_says_to_set_ow_id(make, emu):
    emu.inject(status=403, path=OW_ID,
               body={"success": False, "errorObjects": [{"error": "Forbidden !"}]})
    with pytest.raises(Fatal, match="carries no owId.*set ow_id"):
        make(auth="oauth")


@pytest.mark.parametrize("auth", ["login", "oauth"])
def test_a_refresh_answer_without_owid_keeps_the_workspace_id(make, emu, auth):
    emu.oauth_shape = "wrapped"
    dest = make(auth=auth)
    emu.expire_tokens()
    assert dest.deliver(campaigns(1001)).rejected == {}
    assert dest.client.refreshes == 1 and dest.client.token.ow_id == emu.OW_ID
    assert "owId" not in api_calls(emu, TOKEN)[-1].form()  # (the request, for the record)
    assert api_calls(emu, OW_ID) == []  # carried over from the token it replaced


@pytest.mark.parametrize("body", [
    {"access_token": "a", "refresh_token": "r", "expires_in": 35999},
    {"success": True, "data": {"access_token": "a", "refresh_token": "r", "expires_in": 35999}},
])
def test_either_shape_is_read_from_any_token_answer(make, body):
    client = make(open=True, prepare=False).client
    answer = requests.Response()
    answer.status_code, answer._content = 200, json.dumps(body).encode()  # noqa: SLF001
    data = client._auth_data(answer, "the token refresh")  # noqa: SLF001 - the shared parser
    assert data["access_token"] == "a" and data["refresh_token"] == "r"


@pytest.mark.parametrize("rotate", [True, False])
def test_refresh_works_whether_or_not_the_refresh_token_rotates(make, emu, clock, rotate):
    emu.rotate_refresh = rotate
    dest = make(auth="oauth", ow_id=emu.OW_ID)
    first = dest.client.token.refresh.reveal()
    for _ in range(3):  # three expiries, three refreshes, never a new login
        clock.advance(35999)
        assert dest.deliver(campaigns(1001)).rejected == {}
    sent = [c.form()["refresh_token"] for c in api_calls(emu, TOKEN)
            if c.form()["grant_type"] == "refresh_token"]
    assert len(sent) == 3 and dest.client.logins == 1 and emu.logins == 1
    if rotate:
        assert len(set(sent)) == 3 and sent[0] == first  # each refresh used the newest one
    else:
        assert sent == [first] * 3


def test_a_removed_login_route_says_to_use_oauth(make, emu):
    emu.login_removed = True
    with pytest.raises(Fatal, match='set auth = "oauth"'):
        make()
    assert make(auth="oauth").client.token.ow_id == emu.OW_ID


def test_a_refresh_answer_without_refresh_token_keeps_the_old_one(make, emu, clock):
    from plugins.iqm.emulator_auth import Issued

    dest = make(auth="oauth", ow_id=emu.OW_ID)
    old = dest.client.token.refresh.reveal()
    emu.tokens["plain-access"] = Issued(emu.EMAIL, emu.OW_ID, clock() + 10 * 35999, old)
    emu.inject(status=200, path=TOKEN, body={"access_token": "plain-access",
                                             "token_type": "bearer", "expires_in": 35999})
    clock.advance(35999)
    assert dest.deliver(campaigns(1001)).rejected == {}
    assert dest.client.token.access.reveal() == "plain-access"
    assert dest.client.token.refresh.reveal() == old
    clock.advance(35999)  # the next refresh sends the refresh token it kept
    assert dest.deliver(campaigns(1002)).rejected == {}
    assert api_calls(emu, TOKEN)[-1].form()["refresh_token"] == old
    assert dest.client.logins == 1
