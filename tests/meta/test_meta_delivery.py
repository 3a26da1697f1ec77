"""Delivery through ``pipeline.run`` against the emulator: request size, bisection of
a refused request, Graph error classification, retries and waits (recorded, never
slept), and what stops a run."""

from __future__ import annotations

import datetime as dt

import pytest

from connector import RunContext
from connector.kit.errors import ConfigError
from plugins.meta import emulator_errors
from plugins.meta.destination import MetaDestination
from plugins.meta.settings import MetaSettings
from tests.meta.conftest import DATASET, TOKEN, row, settings_for

TOKEN_FIX = "the access token is invalid or expired: set META_ACCESS_TOKEN"


def orders(n: int) -> list[dict]:
    return [row(f"o-{i}") for i in range(n)]


@pytest.fixture
def job(meta_project, emu):
    """A project with ``n`` orders and a job for the emulator; returns the project."""

    def make(n: int = 4, **settings):
        meta_project.write_rows(orders(n))
        meta_project.write_job(settings_for(**settings))
        return meta_project

    return make


def accepted_orders(emu) -> list[str]:
    return sorted(e["custom_data"]["order_id"] for e in emu.events())


def test_at_most_1000_events_per_request(job, emu) -> None:
    summary = job(2500).run()
    assert summary.status == "succeeded" and summary.counts.delivered == 2500
    assert sorted((r["events"] for r in emu.requests), reverse=True) == [1000, 1000, 500]
    assert summary.counts.requests == 3
    assert len(emu.events()) == 2500


def test_requests_are_multipart_forms_with_the_json_as_it_is(job, emu) -> None:
    """``data`` goes unencoded in a multipart form (as ``curl -F`` posts it in Meta's
    examples), with the token in the body, never in the URL."""
    meta_project = job(1)
    meta_project.write_rows([row("o-0", product_id="Zoë & Co 50%+off")])
    assert meta_project.run().counts.delivered == 1
    [call] = emu.calls
    assert call.header("content-type").startswith("multipart/form-data; boundary=")
    assert b'"event_name":"Purchase"' in call.body and b"%22" not in call.body
    assert '"id":"Zoë & Co 50%+off"'.encode() in call.body
    assert TOKEN not in call.path and call.query == {}
    assert call.form()["access_token"] == TOKEN


def test_a_ledger_write_that_finds_no_memory_waits_and_writes_again(job, emu,
                                                                    monkeypatch) -> None:
    """The shaping query may hold all of DuckDB's memory while a sender records what it
    sent: the write waits (recorded, not slept) and tries again; nothing is lost."""
    import duckdb

    from connector.state.store import State

    record, refusals = State.record_outcomes, iter(range(3))

    def short_of_memory(self, *args, **kwargs):
        if next(refusals, None) is not None:
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")
        return record(self, *args, **kwargs)

    monkeypatch.setattr(State, "record_outcomes", short_of_memory)
    project = job(3)
    summary = project.run()
    assert summary.status == "succeeded" and summary.counts.delivered == 3
    assert sorted(e["event_key"] for e in project.ledger() if e["status"] == "delivered") == \
        ["o-0", "o-1", "o-2"]
    assert project.sleeps == [0.05, 0.1, 0.2]


def test_a_ledger_write_that_never_finds_memory_stops_the_run(job, emu, monkeypatch) -> None:
    import duckdb

    from connector.run import recording
    from connector.state.store import State

    def no_memory(self, *args, **kwargs):
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")

    monkeypatch.setattr(State, "record_outcomes", no_memory)
    monkeypatch.setattr(recording, "MEMORY_ATTEMPTS", 4)
    project = job(2)
    with pytest.raises(Exception, match="Out of Memory"):
        project.run()
    assert len(project.sleeps) == 3


def test_a_poisoned_event_is_isolated_and_the_rest_delivered(job, emu) -> None:
    project = job(40)
    emu.poison("o-17")
    summary = project.run()
    assert summary.status == "succeeded"
    assert (summary.counts.delivered, summary.counts.rejected, summary.counts.failed) == \
        (39, 1, 0)
    assert accepted_orders(emu) == sorted(f"o-{i}" for i in range(40) if i != 17)
    [(key, reason)] = [(e["event_key"], e["reason"]) for e in project.ledger()
                       if e["status"] == "rejected"]
    assert key == "o-17"
    assert reason == "Meta error 100: custom_data.value is not valid for this event."
    assert summary.counts.reasons == {reason: 1}
    # Splitting 40 down to the one bad event takes a handful of refused requests.
    refused = [r for r in emu.requests if "error" in r]
    assert 5 <= len(refused) <= 8
    assert project.sleeps == []  # refusals are split at once, never waited on


def test_an_event_meta_refused_is_not_resent_unchanged(job, emu) -> None:
    project = job(3)
    emu.poison("o-1")
    project.run()
    emu.clear_faults()
    again = project.run()
    assert (again.counts.delivered, again.counts.unchanged) == (0, 3)


@pytest.mark.parametrize("code", [4, 17, 341])
def test_throttling_honours_retry_after_and_is_not_a_failure(job, emu, code) -> None:
    project = job(4)
    emu.throttle(code, retry_after=7, times=3)
    summary = project.run()
    assert summary.status == "succeeded" and summary.counts.delivered == 4
    assert summary.counts.failed == 0
    assert project.sleeps == [7.0, 7.0, 7.0]


def test_throttling_without_retry_after_waits_a_minute(job, emu) -> None:
    project = job(2)
    emu.throttle(17)
    assert project.run().status == "succeeded"
    assert project.sleeps == [60.0]


def test_throttling_does_not_use_up_attempts(job, emu) -> None:
    project = job(2)
    emu.throttle(4, retry_after=1, times=10)  # more than the 6 attempts a request gets
    summary = project.run()
    assert summary.status == "succeeded" and summary.counts.delivered == 2
    assert len(project.sleeps) == 10 and min(project.sleeps) >= 1.0


@pytest.mark.parametrize("fault", ["code-1", "code-2", "http-500", "http-503", "bare-502"])
def test_temporary_errors_are_retried(job, emu, fault) -> None:
    project = job(3)
    if fault.startswith("code-"):
        emu.transient(int(fault[-1]), times=2)
    elif fault.startswith("http-"):
        emu.server_error(int(fault[-3:]), times=2)
    else:
        emu.inject(status=502, body="<html>Bad Gateway</html>", times=2)
    summary = project.run()
    assert summary.status == "succeeded" and summary.counts.delivered == 3
    assert len(project.sleeps) == 2
    assert all(0 < s <= 2 for s in project.sleeps)  # exponential backoff from 0.5 s
    assert accepted_orders(emu) == ["o-0", "o-1", "o-2"]


def test_an_outage_stops_the_run_and_the_next_run_sends_the_rest(job, emu) -> None:
    project = job(3)
    emu.server_error(503, times=50)
    summary = project.run()
    assert summary.status == "failed"
    assert "the destination kept failing" in summary.error
    assert "gave up after 6 attempts" in summary.error
    assert summary.counts.failed == 3 and summary.counts.delivered == 0
    assert len(project.sleeps) == 5
    assert {e["status"] for e in project.ledger()} == {"failed"}
    emu.clear_faults()
    again = project.run()
    assert again.status == "succeeded" and again.counts.delivered == 3
    assert accepted_orders(emu) == ["o-0", "o-1", "o-2"]


def test_a_short_acknowledgement_is_not_resent_in_the_run(job, emu) -> None:
    """Meta answers 200 with events_received 2 of 5 (and keeps 2): the request is not sent
    again in this run; its 5 events are failed with Meta's count, and the run says so.
    The next run sends them again, and Meta drops the 2 it has."""
    project = job(5)
    emu.short_ack(2)
    summary = project.run()
    assert summary.status == "failed"
    assert "Meta acknowledged 2 of the 5 events of a request" in (summary.error or "")
    assert "the next run sends them again with the same event ids" in (summary.error or "")
    assert (summary.counts.delivered, summary.counts.failed) == (0, 5)
    assert len(emu.calls) == 1 and project.sleeps == []
    assert len(emu.events()) == 2
    assert {e["status"] for e in project.ledger()} == {"failed"}
    again = project.run()
    assert again.status == "succeeded" and again.counts.delivered == 5
    assert len(emu.events()) == 5 and emu.duplicates == 2


def test_a_garbled_answer_is_resent_and_meta_deduplicates_it(job, emu) -> None:
    """HTTP 200 with a cut-off body: Meta has the events, the client cannot know; sent
    again (at least once)."""
    project = job(5)
    emu.garble_responses(1)
    summary = project.run()
    assert summary.status == "succeeded" and summary.counts.delivered == 5
    assert len(project.sleeps) == 1
    assert emu.received_count == 10 and emu.duplicates == 5 and len(emu.events()) == 5


def test_a_lost_response_is_resent_and_meta_deduplicates_it(job, emu) -> None:
    project = job(5)
    emu.lose_responses(1)
    summary = project.run()
    assert summary.status == "succeeded" and summary.counts.delivered == 5
    assert emu.received_count == 10 and emu.duplicates == 5
    assert len(emu.events()) == 5


def test_a_timeout_is_retried(job, emu) -> None:
    """The one real wait of these tests: the client's 0.2 s timeout."""
    project = job(2, timeout=0.2)
    emu.timeout(1.0)
    summary = project.run()
    assert summary.status == "succeeded" and summary.counts.delivered == 2
    assert len(project.sleeps) >= 1  # once, or more on a machine too busy to answer in 0.2 s
    assert len(emu.events()) == 2


@pytest.mark.parametrize("problem", ["expired", "unknown-token", "missing-token"])
def test_token_errors_stop_the_run_with_the_fix(job, emu, monkeypatch, problem) -> None:
    project = job(3)
    if problem == "expired":
        emu.expire_token(TOKEN)
    elif problem == "unknown-token":
        monkeypatch.setenv("META_ACCESS_TOKEN", "EAAsome-other-token-31415")
    else:
        error = emulator_errors.missing_token()
        emu.inject(status=error.status, body=error.body())
    summary = project.run()
    assert summary.status == "failed"
    assert TOKEN_FIX in summary.error
    assert summary.counts.delivered == 0 and summary.counts.failed == 3
    assert project.sleeps == []  # no retry
    assert emu.events() == []
    assert "EAAsome-other-token-31415" not in summary.error


def test_the_message_names_the_jobs_token_variable(job, emu, monkeypatch) -> None:
    monkeypatch.setenv("STORE_META_TOKEN", TOKEN)
    project = job(1, access_token_env="STORE_META_TOKEN")
    emu.expire_token(TOKEN)
    assert "set STORE_META_TOKEN" in project.run().error


def test_an_unknown_dataset_stops_the_run(job, emu) -> None:
    project = job(3)
    emu.datasets = {"999999999"}
    summary = project.run()
    assert summary.status == "failed"
    assert (f"dataset {DATASET} does not exist, or the token in META_ACCESS_TOKEN cannot use it"
            in summary.error)
    assert "100/33" in summary.error
    assert summary.counts.delivered == 0 and project.sleeps == []


def test_a_permission_error_stops_the_run(job, emu) -> None:
    project = job(2)
    emu.inject(status=403, body={"error": {"message": "(#200) Permissions error",
                                           "type": "OAuthException", "code": 200}})
    summary = project.run()
    assert summary.status == "failed"
    assert f"may not send events to dataset {DATASET}" in summary.error


def test_a_missing_token_variable_is_a_clear_error(job, emu, monkeypatch) -> None:
    project = job(1)
    monkeypatch.delenv("META_ACCESS_TOKEN")
    with pytest.raises(ConfigError, match="set the environment variable META_ACCESS_TOKEN"):
        project.run()
    assert project.runs()[-1]["status"] == "failed"


def test_a_dry_run_needs_no_token_and_sends_nothing(job, emu, monkeypatch) -> None:
    project = job(1200)
    monkeypatch.delenv("META_ACCESS_TOKEN")
    summary = project.run(dry_run=True)
    assert summary.status == "dry_run" and summary.counts.requests == 2
    assert emu.calls == []


def test_the_api_version_setting_is_the_path(job, emu) -> None:
    assert job(1, api_version="v25.0").run().status == "succeeded"
    assert [r["api_version"] for r in emu.requests] == ["v25.0"]


def test_a_version_meta_no_longer_serves_stops_the_run(job, emu) -> None:
    summary = job(1, api_version="v16.0").run()
    assert summary.status == "failed"
    assert "Meta error 2635" in summary.error and "update to the latest version" in summary.error


def test_concurrency_and_timeout_settings_are_the_limits() -> None:
    settings = MetaSettings(dataset_id=DATASET, concurrency=9, timeout=2.5)
    limits = MetaDestination(settings, RunContext("job", dt.datetime.now(dt.UTC))).limits
    assert (limits.concurrency, limits.timeout, limits.max_events) == (9, 2.5, 1000)
