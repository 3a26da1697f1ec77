"""Runs of a google job against the Data Manager emulator: delivery, Google's refusals,
throttling, server errors, tokens, access, quotas, dry runs and validate_only."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.kit import ConfigError
from plugins.google.emulator import DEFAULT_ACCOUNT, DEFAULT_REFRESH_TOKEN
from tests.google.destination_support import ACTION, ENV, now, row, settings_for


def orders(n: int = 3, **fields) -> list[dict]:
    return [row(f"o-{i}", **fields) for i in range(n)]


def test_a_run_delivers_one_event_per_order_and_a_rerun_sends_nothing(gproject,
                                                                       google_env) -> None:
    gproject.write_rows(orders(3) + [row("o-0", product_id="sku-2"), row("gone", email=None,
                        phone=None, given_name=None, surname=None, postal=None, country=None)])
    gproject.write_job(settings_for(google_env))
    first = gproject.run()
    assert (first.status, first.counts.delivered, first.counts.rejected) == ("succeeded", 3, 1)
    accepted = {e["transactionId"]: e for e in google_env.events(ACTION)}
    assert sorted(accepted) == ["o-0", "o-1", "o-2"]
    assert len(accepted["o-0"]["cartData"]["items"]) == 2
    [request] = [r for r in google_env.requests if r["path"] == "/v1/events:ingest"]
    assert request["events"] == 3 and not request["validate_only"]
    again = gproject.run()
    assert (again.counts.delivered, again.counts.unchanged) == (0, 3)
    assert google_env.counts["requests_accepted"] == 1


def test_an_event_google_refuses_by_name_is_rejected_and_the_rest_resent(gproject,
                                                                         google_env) -> None:
    # The run's clock runs two hours ahead of Google's: to the run, an order one hour
    # ahead of Google is in the past; Google refuses it (EVENT_TIME_INVALID).
    ahead = now() + dt.timedelta(hours=2)
    soon = (now() + dt.timedelta(hours=1)).replace(tzinfo=None)
    gproject.write_rows([row("ok-1"), row("early", timestamp=soon), row("ok-2")])
    gproject.write_job(settings_for(google_env))
    result = gproject.run(now=ahead)
    assert (result.counts.delivered, result.counts.rejected) == (2, 1)
    [reason] = result.counts.reasons
    assert reason.startswith("Google refused the event (EVENT_TIME_INVALID) at event_timestamp")
    ingests = [r for r in google_env.requests if r["path"] == "/v1/events:ingest"]
    assert [(r["status"], r["events"]) for r in ingests] == [(400, 3), (200, 2)]
    assert sorted(e["transactionId"] for e in google_env.events()) == ["ok-1", "ok-2"]
    [ledger] = [e for e in gproject.ledger() if e["event_key"] == "early"]
    assert ledger["status"] == "rejected"


def test_a_refusal_that_names_no_event_falls_back_to_bisection(gproject, google_env) -> None:
    from connector.kit import Fault

    gproject.write_rows(orders(4))
    gproject.write_job(settings_for(google_env))
    google_env.inject(Fault(status=400, path="/v1/events:ingest", body={"error": {
        "code": 400, "status": "INVALID_ARGUMENT", "message": "Request contains an invalid "
        "argument."}}))
    result = gproject.run()
    assert result.counts.delivered == 4
    ingests = [r for r in google_env.requests if r["path"] == "/v1/events:ingest"]
    assert [r["events"] for r in ingests if r["status"] == 200] == [2, 2]


def test_throttling_is_waited_out_as_asked_and_server_errors_retried(gproject,
                                                                     google_env) -> None:
    gproject.write_rows(orders(2))
    gproject.write_job(settings_for(google_env))
    google_env.rate_limit(retry_after=7, times=7)  # more than max_attempts: not spent
    google_env.server_error(503)
    result = gproject.run()
    assert (result.status, result.counts.delivered) == ("succeeded", 2)
    # Each throttled attempt waits at least what Google asked (the backoff grows past it).
    assert len(gproject.sleeps) == 8 and sum(1 for w in gproject.sleeps if w >= 7.0) >= 7


def test_the_daily_quota_stops_the_run_and_leaves_the_rest_pending(gproject,
                                                                   google_env) -> None:
    gproject.write_rows(orders(3))
    gproject.write_job(settings_for(google_env))
    google_env.rate_limit(daily=True)
    stopped = gproject.run()
    assert stopped.status == "failed" and "daily quota" in stopped.error
    assert "IngestionMutateRequestsPerDayPerProject" in stopped.error
    assert stopped.counts.delivered == 0 and not gproject.sleeps
    resumed = gproject.run()
    assert (resumed.status, resumed.counts.delivered) == ("succeeded", 3)


def test_an_expired_token_is_refreshed_once(gproject, google_env) -> None:
    gproject.write_rows(orders(2))
    gproject.write_job(settings_for(google_env))
    assert gproject.run().counts.delivered == 2
    google_env.expire_token()
    gproject.write_rows(orders(4))
    result = gproject.run()
    assert (result.status, result.counts.delivered) == ("succeeded", 2)
    assert google_env.counts["tokens_issued"] == 2


def test_a_second_401_stops_the_job_with_what_to_set(gproject, google_env) -> None:
    gproject.write_rows(orders(2))
    gproject.write_job(settings_for(google_env))
    google_env.unauthenticated(times=2)
    result = gproject.run()
    assert result.status == "failed" and "right after a refresh" in result.error
    assert "GOOGLE_ADS_REFRESH_TOKEN" in result.error
    assert result.counts.delivered == 0 and result.counts.failed == 2


def test_a_revoked_refresh_token_stops_the_job_and_no_secret_is_shown(gproject,
                                                                      google_env) -> None:
    gproject.write_rows(orders(2))
    gproject.write_job(settings_for(google_env))
    google_env.revoke_refresh_token(DEFAULT_REFRESH_TOKEN)
    result = gproject.run()
    assert result.status == "failed" and "invalid_grant" in result.error
    assert "set GOOGLE_ADS_CLIENT_ID, GOOGLE_ADS_CLIENT_SECRET and GOOGLE_ADS_REFRESH_TOKEN" \
        in result.error
    files = [p.read_bytes().decode("latin-1") for p in gproject.project.home.rglob("*")
             if p.is_file()]
    for secret in (ENV["GOOGLE_ADS_CLIENT_SECRET"], DEFAULT_REFRESH_TOKEN):
        assert secret not in result.error and not any(secret in text for text in files)


def test_no_access_to_the_account_stops_the_job_naming_it(gproject, google_env) -> None:
    gproject.write_rows(orders(1))
    gproject.write_job(settings_for(google_env, operating_account_id="111-222-3333",
                                    login_account_id=DEFAULT_ACCOUNT))
    result = gproject.run()
    assert result.status == "failed"
    assert "operating account 1112223333 (through login account 1234567890)" in result.error
    assert "set login_account_id" in result.error


def test_an_unknown_conversion_action_stops_the_job(gproject, google_env) -> None:
    google_env.accounts = {DEFAULT_ACCOUNT: [ACTION]}
    gproject.write_rows(orders(1))
    gproject.write_job(settings_for(google_env, conversion_action_id="999"))
    result = gproject.run()
    assert result.status == "failed" and "INVALID_CONVERSION_ACTION_ID" in result.error


def test_a_dry_run_builds_every_request_and_sends_none(gproject, google_env) -> None:
    gproject.write_rows(orders(5))
    gproject.write_job(settings_for(google_env))
    result = gproject.run(dry_run=True)
    assert (result.status, result.counts.requests) == ("dry_run", 1)
    assert result.counts.bytes > 0 and google_env.requests == []


def test_validate_only_has_google_check_and_record_nothing(gproject, google_env) -> None:
    gproject.write_rows(orders(3))
    gproject.write_job(settings_for(google_env, validate_only=True))
    checked = gproject.run()
    assert (checked.counts.delivered, checked.counts.rejected) == (0, 3)
    assert list(checked.counts.reasons) == [
        "validate_only: Google checked this event and found nothing wrong, and recorded "
        "nothing; set validate_only = false to send it"]
    assert [r["validate_only"] for r in google_env.requests] == [True]
    assert google_env.events() == []
    gproject.write_job(settings_for(google_env))
    sent = gproject.run()
    assert sent.counts.delivered == 3 and len(google_env.events()) == 3


def test_a_service_account_key_file_authenticates(gproject, google_env, tmp_path,
                                                  monkeypatch) -> None:
    import json

    key = tmp_path / "key.json"
    key.write_text(json.dumps(google_env.add_service_account()))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    gproject.write_rows(orders(2))
    gproject.write_job(settings_for(google_env, auth="service_account", token_uri=None))
    result = gproject.run()
    assert (result.status, result.counts.delivered) == ("succeeded", 2), result.error
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    gproject.write_job(settings_for(google_env, auth="service_account", token_uri=None))
    gproject.write_rows(orders(3))
    with pytest.raises(ConfigError, match="GOOGLE_APPLICATION_CREDENTIALS names a key file "
                       "that cannot be read"):
        gproject.run()
