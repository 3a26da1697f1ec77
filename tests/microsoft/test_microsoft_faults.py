"""Whole-request faults: credentials, access, expired tokens and renewal, throttling, 5xx,
timeouts. Only classification is tested: backoff is the core's job (no sleeps here)."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from connector import ConfigError, Fatal, Retryable
from plugins.microsoft.emulator import ACCESS_TOKEN, CLIENT_ID


def test_unknown_access_token_is_fatal_and_names_the_variables(make_dest, monkeypatch, batch,
                                                               conversion):
    monkeypatch.setenv("MSADS_ACCESS_TOKEN", "not-a-token-the-emulator-knows")
    with pytest.raises(Fatal) as caught:
        make_dest().deliver(batch(conversion()))
    reason = caught.value.reason
    assert "105 InvalidCredentials" in reason
    assert "MSADS_ACCESS_TOKEN" in reason and "MSADS_DEVELOPER_TOKEN" in reason
    assert "not-a-token-the-emulator-knows" not in reason


def test_wrong_developer_token_is_fatal(make_dest, monkeypatch, batch, conversion):
    monkeypatch.setenv("MSADS_DEVELOPER_TOKEN", "WRONGTOKEN")
    with pytest.raises(Fatal, match="105 InvalidCredentials"):
        make_dest().deliver(batch(conversion()))


def test_an_account_the_user_cannot_reach_is_fatal(make_dest, emulator, batch, conversion):
    emulator.accounts["2222"] = {"999"}  # it exists, under another customer
    with pytest.raises(Fatal) as caught:
        make_dest(account_id="999").deliver(batch(conversion()))
    assert "106 UserIsNotAuthorized" in caught.value.reason
    assert "account 999" in caught.value.reason and "account_id" in caught.value.reason


def test_expired_token_without_refresh_settings_stops_with_what_to_set(make_dest, emulator, batch,
                                                                      conversion):
    dest = make_dest()
    emulator.expire_token()
    with pytest.raises(Fatal) as caught:
        dest.deliver(batch(conversion()))
    assert "109" in caught.value.reason
    assert "client_id" in caught.value.reason and "MSADS_REFRESH_TOKEN" in caught.value.reason
    assert emulator.refreshes == 0


def test_expired_token_is_renewed_once_then_the_request_is_resent(make_dest, emulator, batch,
                                                                  conversion):
    dest = make_dest(client_id=CLIENT_ID)
    emulator.expire_token()
    outcome = dest.deliver(batch(conversion()))
    assert outcome.rejected == {} and outcome.info["token_refreshes"] == 1
    assert emulator.refreshes == 1 and len(emulator.accepted()) == 1
    token_call = emulator.calls[1]
    assert token_call.path == "/common/oauth2/v2.0/token"
    form = token_call.form()
    assert form["grant_type"] == "refresh_token" and form["client_id"] == CLIENT_ID
    assert form["scope"] == "https://ads.microsoft.com/msads.manage offline_access"
    assert "client_secret" not in form
    assert emulator.calls[2].header("Authorization") == "Bearer emulator-access-1"
    dest.deliver(batch(conversion(MicrosoftClickId="again")))
    assert emulator.refreshes == 1  # the new token is kept


def test_client_secret_is_sent_when_set(make_dest, emulator, monkeypatch, batch, conversion):
    monkeypatch.setenv("MSADS_CLIENT_SECRET", "app-secret-value")
    dest = make_dest(client_id=CLIENT_ID)
    emulator.expire_token()
    dest.deliver(batch(conversion()))
    assert emulator.calls[1].form()["client_secret"] == "app-secret-value"


def test_concurrent_expiries_renew_the_token_once(make_dest, emulator, batch, conversion):
    dest = make_dest(client_id=CLIENT_ID)
    emulator.expire_token()
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            dest.deliver(batch(conversion(MicrosoftClickId=f"t{i}")))
        except BaseException as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert emulator.refreshes == 1 and len(emulator.accepted()) == 4


def test_a_refused_refresh_token_is_fatal(make_dest, emulator, batch, conversion):
    dest = make_dest(client_id=CLIENT_ID)
    emulator.expire_token()
    emulator.refuse_refresh()
    with pytest.raises(Fatal) as caught:
        dest.deliver(batch(conversion()))
    assert "invalid_grant" in caught.value.reason and "MSADS_REFRESH_TOKEN" in caught.value.reason


def test_a_refresh_token_for_another_app_is_refused(make_dest, emulator, batch, conversion):
    dest = make_dest(client_id="some-other-app")
    emulator.expire_token()
    with pytest.raises(Fatal, match="invalid_grant"):
        dest.deliver(batch(conversion()))


def test_still_expired_after_renewal_is_fatal(make_dest, emulator, batch, conversion):
    dest = make_dest(client_id=CLIENT_ID)
    emulator.fault_code(109, times=2)
    with pytest.raises(Fatal, match="still reports an expired token"):
        dest.deliver(batch(conversion()))
    assert emulator.refreshes == 1


def test_a_refresh_token_alone_is_enough_to_start(make_dest, emulator, monkeypatch, batch,
                                                  conversion):
    monkeypatch.delenv("MSADS_ACCESS_TOKEN")
    dest = make_dest(client_id=CLIENT_ID)
    assert emulator.refreshes == 1
    assert dest.deliver(batch(conversion())).rejected == {}


def test_no_access_token_and_no_refresh_is_a_config_error_at_open(make_dest, monkeypatch):
    monkeypatch.delenv("MSADS_ACCESS_TOKEN")
    with pytest.raises(ConfigError, match="set the environment variable MSADS_ACCESS_TOKEN"):
        make_dest()


@pytest.mark.parametrize("http_429, retry_after, expected", [
    (True, None, 60.0),
    (True, 7, 7.0),
    (False, None, 60.0),
    (False, 120, 120.0),
])
def test_throttling_is_retryable_and_waits_at_least_a_minute(make_dest, emulator, batch,
                                                             conversion, http_429, retry_after,
                                                             expected):
    emulator.throttle(http_429=http_429, retry_after=retry_after)
    with pytest.raises(Retryable) as caught:
        make_dest().deliver(batch(conversion()))
    assert caught.value.throttled and caught.value.retry_after == expected
    assert "117 CallRateExceeded" in caught.value.reason


def test_throttling_code_as_text_is_recognized(make_dest, emulator, batch, conversion):
    emulator.inject(status=400, body={"Type": "AdApiFaultDetail", "TrackingId": "t",
                                      "Errors": [{"Code": "117", "ErrorCode": "CallRateExceeded",
                                                  "Message": "slow down"}]})
    with pytest.raises(Retryable) as caught:
        make_dest().deliver(batch(conversion()))
    assert caught.value.throttled and caught.value.retry_after == 60.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retryable_not_throttled(make_dest, emulator, batch, conversion, status):
    emulator.server_error(status=status)
    with pytest.raises(Retryable) as caught:
        make_dest().deliver(batch(conversion()))
    assert not caught.value.throttled
    assert f"HTTP {status}" in caught.value.reason


def test_internal_error_fault_with_400_is_retryable(make_dest, emulator, batch, conversion):
    emulator.inject(status=400, body={"Type": "AdCenterInternalErrorFault", "TrackingId": "t",
                                      "ErrorMessage": "internal"})
    with pytest.raises(Retryable):
        make_dest().deliver(batch(conversion()))


def test_a_timeout_is_retryable(make_dest, emulator, batch, conversion):
    dest = make_dest()
    dest.limits = dataclasses.replace(dest.limits, timeout=0.05)
    dest.open(dest.http)
    emulator.slow(0.5)
    with pytest.raises(Retryable, match="within 0.05s"):
        dest.deliver(batch(conversion()))


def test_a_dropped_connection_is_retryable(make_dest, emulator, batch, conversion):
    emulator.drop()
    with pytest.raises(Retryable, match="could not reach"):
        make_dest().deliver(batch(conversion()))


def test_an_unreadable_answer_is_retryable(make_dest, emulator, batch, conversion):
    emulator.malformed()
    with pytest.raises(Retryable, match="not a JSON object"):
        make_dest().deliver(batch(conversion()))


def test_tokens_never_appear_in_errors(make_dest, emulator, batch, conversion):
    emulator.inject(status=400, body={"Type": "ApiFaultDetail", "TrackingId": "t",
                                      "OperationErrors": [{"Code": 201, "ErrorCode": "X",
                                                           "Message": f"echo {ACCESS_TOKEN}"}]})
    with pytest.raises(Fatal) as caught:
        make_dest().deliver(batch(conversion()))
    assert ACCESS_TOKEN not in caught.value.reason and "***" in caught.value.reason


@pytest.mark.parametrize("status, expected", [(401, "refused the credentials"),
                                              (403, "may not use customer")])
def test_bare_auth_statuses_are_fatal_with_advice(make_dest, emulator, batch, conversion, status,
                                                  expected):
    emulator.inject(status=status, body="")
    with pytest.raises(Fatal, match=expected):
        make_dest().deliver(batch(conversion()))


def test_authentication_fault_type_is_fatal(make_dest, emulator, batch, conversion):
    emulator.inject(status=401, body={"Type": "AdCenterAuthenticationFault", "TrackingId": "t",
                                      "ErrorCode": "InvalidSecurityTicket", "ErrorMessage": "bad"})
    with pytest.raises(Fatal, match="InvalidSecurityTicket: bad"):
        make_dest().deliver(batch(conversion()))
