"""Runs that meet faults, end to end against the sink emulator: throttling, server
errors, a destination down, fatal and unexpected errors, a failed ledger write, a second
run of a running job, a crash, an interrupt, a query that fails while running.

Every run goes through :func:`connector.run.pipeline.run` with a recording ``sleep``:
retries and Retry-After waits are recorded, never waited.
"""

from __future__ import annotations

from collections import Counter

import pytest

from connector import Fault
from connector.engines.warehouse import Engine
from connector.kit.errors import ConfigError, OfframpError
from connector.run import pipeline as pl
from connector.run.lock import JobLock
from connector.state.store import State

from ..conftest import NOW  # noqa: TID252 - shared test data
from .conftest import SinkDestination
from .pipeline_support import KEYS, ledger, run, runs, sink_job


def test_throttling_is_waited_out_without_using_up_attempts(project, sink, sleeps) -> None:
    sink.inject(Fault(429, {"error": "slow down"}, headers={"Retry-After": "2"}, times=4))
    job = sink_job(project, sink, max_attempts=2)
    summary = run(project, job, sleeps)
    assert summary.status == "succeeded" and summary.counts.delivered == 6
    assert len(sleeps.calls) == 4
    assert all(s >= 2.0 for s in sleeps.calls)


def test_server_errors_are_retried(project, sink, sleeps) -> None:
    sink.inject(Fault(503, "unavailable", times=2))
    job = sink_job(project, sink, max_attempts=3)
    summary = run(project, job, sleeps)
    assert summary.status == "succeeded" and summary.counts.delivered == 6
    assert len(sleeps.calls) == 2
    assert sleeps.calls[0] < sleeps.calls[1]  # exponential backoff


def test_a_dropped_connection_is_retried(project, sink, sleeps) -> None:
    sink.inject(Fault(drop=True, times=1))
    summary = run(project, sink_job(project, sink), sleeps)
    assert summary.status == "succeeded" and summary.counts.delivered == 6
    assert len(sleeps.calls) == 1


def test_destination_down_for_a_run_then_back(project, sink, sleeps) -> None:
    sink.inject(Fault(503, "down", times=10_000))
    job = sink_job(project, sink, max_attempts=2, max_events=2, concurrency=1)
    down = run(project, job, sleeps)
    assert down.status == "failed" and not down.ok
    assert "kept failing" in down.error and "pending" in down.error
    assert down.counts.delivered == 0 and down.counts.failed >= 2
    failed = {k for k, s in ledger(project).items() if s == "failed"}
    assert failed and failed <= KEYS
    assert sink.received == Counter()
    assert runs(project)[0][1] == "failed"

    sink.clear_faults()
    sink.requests.clear()
    back = run(project, job, sleeps)
    assert back.status == "succeeded"
    assert back.counts.delivered == 6
    assert set(sink.requests[0]) <= failed  # what failed goes first
    assert sink.received == Counter(dict.fromkeys(KEYS, 1))
    assert ledger(project) == dict.fromkeys(KEYS, "delivered")


def test_a_fatal_error_stops_the_run_and_keeps_everything_pending(project, sink) -> None:
    sink.token = "the-right-token"
    job = sink_job(project, sink)
    summary = run(project, job)
    assert summary.status == "failed"
    assert "the sink refused the token" in summary.error
    assert "sink-test-token-0001" not in summary.error  # echoed by the API, redacted by us
    assert summary.counts.delivered == 0
    assert sink.received == Counter()
    sink.token = "sink-test-token-0001"
    assert run(project, job).counts.delivered == 6


def test_an_unexpected_plugin_error_ends_a_recorded_run(project, sink, monkeypatch) -> None:
    deliver = SinkDestination.deliver

    def fragile(self, batch):
        if "a5" in batch.keys:
            raise KeyError("surprise")
        return deliver(self, batch)

    monkeypatch.setattr(SinkDestination, "deliver", fragile)
    job = sink_job(project, sink, max_events=2, concurrency=1)
    summary = run(project, job)
    assert summary.status == "failed"
    assert "KeyError" in summary.error and "surprise" in summary.error
    delivered = {k for k, s in ledger(project).items() if s == "delivered"}
    assert delivered == set(sink.received) and delivered  # what was sent is recorded
    assert runs(project)[0][1] == "failed"

    monkeypatch.setattr(SinkDestination, "deliver", deliver)
    again = run(project, job)
    assert again.status == "succeeded"
    assert sink.received == Counter(dict.fromkeys(KEYS, 1))


def test_each_outcome_is_written_by_the_thread_that_delivered_it(project, sink,
                                                                 monkeypatch) -> None:
    import threading

    record, writers = State.record_outcomes, []

    def traced(self, *args, **kwargs):
        writers.append(threading.current_thread().name)
        return record(self, *args, **kwargs)

    monkeypatch.setattr(State, "record_outcomes", traced)
    summary = run(project, sink_job(project, sink, max_events=2, concurrency=2))
    assert summary.counts.delivered == 6 and summary.counts.requests == 3
    # one write per request, or fewer when answers wait for a write and go in together
    assert 1 <= len(writers) <= 3 and all(name.startswith("deliver-sink") for name in writers)
    assert set(ledger(project).values()) == {"delivered"} and set(ledger(project)) == KEYS


def test_a_ledger_write_that_fails_stops_the_run_and_loses_only_that_request(
        project, sink, monkeypatch) -> None:
    record = State.record_outcomes

    def full_disk(self, run_id, outcomes):
        if "a3" in outcomes.column("event_key").to_pylist():
            raise OSError(28, "No space left on device")
        return record(self, run_id, outcomes)

    monkeypatch.setattr(State, "record_outcomes", full_disk)
    job = sink_job(project, sink, max_events=2, concurrency=1)
    with pytest.raises(OSError, match="No space left"):
        run(project, job)
    assert runs(project)[0][1] == "failed" and "OSError" in runs(project)[0][5]
    states = ledger(project)
    delivered = {k for k, status in states.items() if status == "delivered"}
    unrecorded = set(sink.received) - set(states)
    (lost,) = [set(keys) for keys in sink.requests if "a3" in keys]
    assert unrecorded == lost and len(lost) == 2  # the one request whose write failed
    assert delivered and delivered <= set(sink.received)
    # Queued behind it: recorded as failed (not sent), or never cut into a request.
    assert set(states) - delivered <= KEYS - set(sink.received)

    monkeypatch.setattr(State, "record_outcomes", record)
    again = run(project, job)
    assert again.status == "succeeded" and set(ledger(project).values()) == {"delivered"}
    # What the ledger knew was delivered is not sent again; the request whose answer
    # it lost is (at least once delivery), and the rest once.
    assert sink.received == Counter({k: 2 if k in unrecorded else 1 for k in KEYS})


def test_a_plugin_bug_outside_delivery_still_ends_the_run(project, sink, monkeypatch) -> None:
    def broken(self, source, columns):
        raise RuntimeError("shape bug")

    monkeypatch.setattr(SinkDestination, "shape_sql", broken)
    with pytest.raises(RuntimeError, match="shape bug"):
        run(project, sink_job(project, sink))
    (row,) = runs(project)
    assert row[1] == "failed" and row[5] == "internal error: RuntimeError: shape bug"


def test_a_second_run_of_a_running_job_is_refused(project, sink) -> None:
    job = sink_job(project, sink)
    with JobLock(project.project.lock_path(job), job), \
            pytest.raises(ConfigError, match="already running"):
        run(project, job)
    assert sink.calls == []


def test_a_run_left_running_by_a_crash_is_closed_as_killed(project, sink) -> None:
    job = sink_job(project, sink)
    with Engine(project.project.warehouse, state=project.project.state_path(job)) as engine:
        State(engine.cursor()).start_run(job, "sink", False, NOW)
    summary = run(project, job)
    assert summary.run_id == 2
    assert [r[1] for r in runs(project)] == ["killed", "succeeded"]


def test_an_interrupted_run_keeps_what_it_delivered(project, sink) -> None:
    job = sink_job(project, sink, max_events=2, concurrency=1)

    pressed = []

    def stop_after_first_delivery(counts) -> None:  # one Ctrl-C, once something is sent
        if counts.delivered and not pressed:
            pressed.append(True)
            raise KeyboardInterrupt

    with pytest.raises(pl.Interrupted, match="run again to send the rest"):
        run(project, job, progress=stop_after_first_delivery)
    (row,) = runs(project)
    assert row[1] == "interrupted"
    delivered = {k for k, s in ledger(project).items() if s == "delivered"}
    assert delivered == set(sink.received) and 0 < len(delivered) < 6
    rest = run(project, job)
    assert rest.counts.delivered == 6 - len(delivered)
    assert sink.received == Counter(dict.fromkeys(KEYS, 1))


def test_a_query_that_fails_while_running_is_recorded(project, sink) -> None:
    job = sink_job(project, sink, sql="SELECT CAST(email AS INTEGER) AS id FROM Customer_360")
    with pytest.raises(OfframpError, match="DuckDB refused the query: Conversion Error"):
        run(project, job)
    (row,) = runs(project)
    assert row[1] == "failed" and "Conversion Error" in row[5]


def test_a_job_that_never_validated_gets_no_state_file(project, sink) -> None:
    job = sink_job(project, sink, sql="SELECT email FROM Customer_360")
    for dry_run in (True, False):
        with pytest.raises(OfframpError, match="column `id` is missing"):
            run(project, job, dry_run=dry_run)
    assert sink.calls == []
    assert not project.project.state_path(job).exists()


def test_validation_failures_of_a_job_that_ran_record_nothing_but_the_run(project,
                                                                          sink) -> None:
    job = sink_job(project, sink)
    run(project, job)
    sent = len(sink.calls)
    sink_job(project, sink, sql="SELECT email FROM Customer_360")
    with pytest.raises(OfframpError, match="column `id` is missing"):
        run(project, job)
    assert len(sink.calls) == sent
    assert [r[1] for r in runs(project)] == ["succeeded", "failed"]
    assert "column `id` is missing" in runs(project)[-1][5]
