"""Runs end to end against the sink emulator: diffing, rejects, bisection, requests' limits,
routes, dry runs and previews (runs that meet faults: test_pipeline_faults.py).

Every run goes through :func:`connector.run.pipeline.run` with a recording ``sleep``:
retries and Retry-After waits are recorded, never waited.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from connector.engines.warehouse import Warehouse, WarehouseWriter
from connector.kit.errors import ConfigError, OfframpError
from connector.run import pipeline as pl

from ..conftest import NOW, customer_360  # noqa: TID252 - shared test data
from .conftest import SinkDestination
from .pipeline_support import CUSTOMERS, KEYS, ledger, run, runs, sink_job


def test_a_run_delivers_every_event_once(project, sink) -> None:
    job = sink_job(project, sink, max_events=4)
    summary = run(project, job)
    assert summary.status == "succeeded" and summary.ok
    k = summary.counts
    assert (k.rows_read, k.events, k.delivered, k.rejected, k.failed) == (6, 6, 6, 0, 0)
    assert k.requests == 2
    assert sorted(len(r) for r in sink.requests) == [2, 4]
    assert sink.received == Counter(dict.fromkeys(KEYS, 1))
    assert ledger(project) == dict.fromkeys(KEYS, "delivered")
    assert runs(project) == [(1, "succeeded", 6, 0, 0, None)]
    (dest,) = SinkDestination.instances
    assert dest.opened and dest.closed
    assert dest.context.first_send and dest.context.now == NOW and not dest.context.dry_run


def test_a_rerun_sends_nothing_that_did_not_change(project, sink) -> None:
    job = sink_job(project, sink)
    run(project, job)
    calls = len(sink.calls)
    again = run(project, job)
    assert again.status == "succeeded"
    assert (again.counts.delivered, again.counts.unchanged, again.counts.requests) == (0, 6, 0)
    assert len(sink.calls) == calls
    assert not SinkDestination.instances[-1].context.first_send


def test_a_changed_row_is_sent_again_alone(project, sink) -> None:
    job = sink_job(project, sink)
    run(project, job)
    table = customer_360()
    emails = pc.if_else(pc.equal(table.column("amperity_id"), "a4"),
                        pa.scalar("new@example.org"), table.column("email"))
    table = table.set_column(1, "email", emails)
    with WarehouseWriter(project.project.warehouse) as writer:
        writer.replace("Customer_360", table, where={})
    summary = run(project, job)
    assert (summary.counts.delivered, summary.counts.unchanged) == (1, 5)
    assert sink.requests[-1] == ["a4"]
    assert sink.received["a4"] == 2


def test_full_resends_everything(project, sink) -> None:
    job = sink_job(project, sink)
    run(project, job)
    summary = run(project, job, full=True)
    assert (summary.counts.delivered, summary.counts.unchanged) == (6, 0)
    assert sink.received == Counter(dict.fromkeys(KEYS, 2))


def test_dry_run_builds_every_request_and_sends_none(project, sink) -> None:
    job = sink_job(project, sink, max_events=4)
    summary = run(project, job, dry_run=True)
    assert summary.status == "dry_run" and summary.ok
    assert summary.counts.requests == 2
    assert summary.counts.bytes > 6 * len('{"key":"a1"}')
    assert sink.calls == []
    assert ledger(project) == {}
    assert runs(project) == [(1, "dry_run", 0, 0, 0, None)]
    (dest,) = SinkDestination.instances
    assert not dest.opened and dest.context.dry_run
    # nothing was marked as sent: the real run sends everything
    assert run(project, job).counts.delivered == 6


def test_rows_refused_in_shaping_are_kept_with_their_reason(project, sink) -> None:
    job = sink_job(project, sink, sql="SELECT email AS id FROM Customer_360")
    summary = run(project, job)
    assert (summary.counts.delivered, summary.counts.rejected) == (4, 2)
    assert summary.counts.reasons == {"id is missing": 2}
    rows = project.state_rows(job, "SELECT stage, reason, count(*) FROM state.rejects GROUP BY ALL")
    assert rows == [("shape", "id is missing", 2)]


def test_events_without_a_key_are_rejected_not_a_crash(project, sink) -> None:
    # the destination does not guard: the core must, or the ledger breaks mid-run
    job = sink_job(project, sink, sql="SELECT email AS id FROM Customer_360", guard_nulls=False)
    summary = run(project, job)
    assert summary.status == "succeeded"
    assert (summary.counts.delivered, summary.counts.rejected) == (4, 2)
    (reason,) = summary.counts.reasons
    assert "no key" in reason
    assert sum(sink.received.values()) == 4
    assert run(project, job).counts.delivered == 0  # and nothing is sent twice


def test_events_without_a_payload_are_rejected_not_a_crash(project, sink) -> None:
    job = sink_job(project, sink, null_payload_when_null="email")
    summary = run(project, job)
    assert summary.status == "succeeded"
    assert (summary.counts.delivered, summary.counts.rejected) == (4, 2)
    (reason,) = summary.counts.reasons
    assert "no payload" in reason
    assert set(sink.received) == {"a1", "a2", "a4", "a6"}


def test_duplicate_event_keys_are_rejected_not_resent_forever(project, sink) -> None:
    sql = "SELECT order_id AS id, product_id FROM Unified_Itemized_Transactions"
    job = sink_job(project, sink, sql=sql)
    first = run(project, job)
    assert (first.counts.delivered, first.counts.rejected) == (4, 6)  # o1, o4, o6 twice each
    (reason,) = first.counts.reasons
    assert "duplicate event key: 2 events share this key" in reason
    assert set(sink.received) == {"o2", "o3", "o5", "o7"}
    second = run(project, job)
    assert second.counts.delivered == 0
    assert max(sink.received.values()) == 1


def test_events_the_destination_refuses_are_kept_and_not_resent(project, sink) -> None:
    sink.refuse = {"a2": "email domain not allowed"}
    job = sink_job(project, sink)
    summary = run(project, job)
    assert (summary.counts.delivered, summary.counts.rejected) == (5, 1)
    assert summary.counts.reasons == {"email domain not allowed": 1}
    assert ledger(project)["a2"] == "rejected"
    rows = project.state_rows(job, "SELECT event_key, stage, reason FROM state.rejects")
    assert rows == [("a2", "destination", "email domain not allowed")]
    assert run(project, job).counts.delivered == 0


def test_a_refused_request_is_split_until_the_bad_events_stand_alone(project, sink) -> None:
    sink.bad = {"a2", "a5"}
    job = sink_job(project, sink, max_events=6)
    summary = run(project, job)
    assert summary.status == "succeeded"
    assert (summary.counts.delivered, summary.counts.rejected) == (4, 2)
    assert set(sink.received) == KEYS - {"a2", "a5"}
    assert max(sink.received.values()) == 1
    statuses = ledger(project)
    assert {k for k, s in statuses.items() if s == "rejected"} == {"a2", "a5"}
    assert summary.counts.reasons == {"the request holds an invalid event": 2}
    assert sink.requests[0] == sorted(KEYS) or len(sink.requests[0]) == 6
    assert ["a2"] in sink.requests and ["a5"] in sink.requests


def test_requests_respect_max_events_and_max_bytes(project, sink) -> None:
    job = sink_job(project, sink, max_events=3, max_bytes=200)
    summary = run(project, job)
    assert summary.counts.delivered == 6
    sizes = [len(call.body) for call in sink.calls]
    assert max(sizes) <= 200
    assert all(len(keys) <= 3 for keys in sink.requests)
    assert len(sink.requests) >= -(-sum(sizes) // 200)  # as few as the byte limit allows
    assert len(sink.requests) > 2  # the byte limit, not the event limit, cut them


def test_routes_never_share_a_request(project, sink) -> None:
    sql = "SELECT amperity_id AS id, country AS route FROM Customer_360 WHERE country IS NOT NULL"
    job = sink_job(project, sink, sql=sql)
    summary = run(project, job)
    assert summary.counts.delivered == 5
    assert sink.routes == Counter({"US": 3, "GB": 2})
    by_path = {call.path: len(call.json()) for call in sink.calls}
    assert by_path == {"/events/US": 3, "/events/GB": 2}


def test_events_sent_to_a_new_route_are_sent_again(project, sink) -> None:
    """The same payload for another target (a new dataset id in the settings) is not
    'unchanged': the new target has never seen it."""
    run(project, sink_job(project, sink, route="dataset-1"))
    assert sink.routes == Counter({"dataset-1": 6})
    moved = run(project, sink_job(project, sink, route="dataset-2"))
    assert (moved.counts.delivered, moved.counts.unchanged) == (6, 0)
    assert sink.routes == Counter({"dataset-1": 6, "dataset-2": 6})
    assert run(project, sink_job(project, sink, route="dataset-2")).counts.delivered == 0


def test_a_parquet_warehouse_runs_the_same(parquet_project, sink) -> None:
    job = sink_job(parquet_project, sink,
                   sql="SELECT DISTINCT order_id AS id FROM Unified_Itemized_Transactions "
                       "WHERE purchase_channel = 'store'")
    summary = run(parquet_project, job)
    assert summary.counts.delivered == 4
    assert set(sink.received) == {"o1", "o3", "o4", "o6"}


def test_first_send_and_the_clock_reach_the_destination(project, sink) -> None:
    job = sink_job(project, sink)
    later = NOW + dt.timedelta(days=1)
    pl.run(project.project, job, now=later, sleep=lambda s: None)
    assert SinkDestination.instances[-1].context.now == later
    assert SinkDestination.instances[-1].context.first_send


def test_preview_shows_rows_and_events_and_writes_nothing(project, sink) -> None:
    job = sink_job(project, sink, sql="SELECT email AS id FROM Customer_360")
    rows, events = pl.preview(project.project, job, limit=3, now=NOW)
    assert rows.num_rows == 3 and rows.column_names == ["id"]
    assert events.column_names == ["event_key", "route", "reject_reason", "payload"]
    assert events.num_rows == 3
    assert not project.project.state_path(job).exists()
    assert sink.calls == []


def test_validate_returns_the_prepared_job(project, sink) -> None:
    job = sink_job(project, sink)
    prep = pl.validate(project.project, job)
    assert prep.destination is SinkDestination
    assert prep.columns == {"id": "VARCHAR", "email": "VARCHAR", "country": "VARCHAR"}
    assert prep.settings.url == sink.url


def test_bad_settings_list_every_problem(project, sink) -> None:
    project.write_job("bad", CUSTOMERS, "sink", max_events="many", colour="blue")
    with pytest.raises(OfframpError) as info:
        pl.validate(project.project, "bad")
    text = str(info.value)
    assert "setting `url` in bad.sql" in text
    assert "setting `max_events` in bad.sql" in text
    assert "setting `colour` in bad.sql" in text


def test_unknown_destination_names_the_installed_ones(project) -> None:
    project.write_job("nowhere", CUSTOMERS, "carrier_pigeon")
    with pytest.raises(OfframpError, match="no destination named 'carrier_pigeon'.*jsonl"):
        pl.validate(project.project, "nowhere")


def test_missing_warehouse_is_a_clear_error(tmp_path) -> None:
    from connector.project import Project

    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "j.sql").write_text("/* offramp\ndestination='jsonl'\n*/ SELECT 1")
    with pytest.raises(ConfigError, match="warehouse file .* does not exist"):
        pl.run(Project(tmp_path), "j")
    assert Warehouse("duckdb", tmp_path / "warehouse.duckdb").path.exists() is False
