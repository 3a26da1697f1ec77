"""Every event of every run is counted once, however the run ends: events = unchanged +
delivered + rejected + failed + pending, in the summary and in the ``runs`` table, and
what the counts say matches the ledger and what reached Meta."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from reliability_kit import GatedMeta, Shop, kill_after_one_commit

from connector import Fault
from connector.engines import warehouse
from connector.kit.runs import RunCounts
from connector.run import pipeline

#: More orders than one batch DuckDB hands over (16,384 events), so that a run that
#: stops early has read events it never sent.
MANY = 20_000
COUNTS = ("events", "unchanged", "delivered", "rejected", "failed", "pending")


def last_run(shop: Shop) -> dict[str, Any]:
    return shop.runs()[-1]


def assert_adds_up(shop: Shop, status: str, summary: RunCounts | None = None) -> dict[str, Any]:
    """The run's stored counts add up, equal the summary's, and its ledger rows say the
    same: one ``delivered`` or ``failed`` row per event counted so."""
    run = last_run(shop)
    assert run["status"] == status, run
    assert run["events"] == sum(run[name] for name in COUNTS[1:]), run
    if summary is not None:
        assert {n: getattr(summary, n) for n in COUNTS} == {n: run[n] for n in COUNTS}
    ledger = shop.query_state(
        "SELECT status, count(*) AS n FROM (SELECT event_key, arg_max(status, seq) AS status "
        f"FROM state.ledger WHERE run_id = {run['run_id']} GROUP BY event_key) GROUP BY status")
    by_status = {r["status"]: r["n"] for r in ledger}
    assert by_status.get("delivered", 0) == run["delivered"]
    assert by_status.get("failed", 0) == run["failed"]
    return run


def test_a_run_that_succeeds_adds_up_with_rejects_and_unchanged_events(
        shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(3000, price=lambda i: float("nan") if i % 500 == 0 else 10.0)
    shop.write_job()
    first = shop.run()
    assert first.counts.rejected == 6 and first.counts.delivered == 2994
    assert_adds_up(shop, "succeeded", first.counts)
    shop.write_orders(3100, price=lambda i: float("nan") if i % 500 == 0 else 10.0)
    second = shop.run()
    counts = second.counts  # order 3000 is a new reject; the 6 old ones are reported again
    assert (counts.unchanged, counts.delivered, counts.rejected) == (2994, 99, 7)
    assert_adds_up(shop, "succeeded", second.counts)


def test_a_dry_run_counts_what_it_would_send_pending(shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(2500)
    shop.write_job()
    summary = shop.run(dry_run=True)
    assert summary.counts.pending == 2500 and summary.counts.requests == 3
    assert_adds_up(shop, "dry_run", summary.counts)
    assert emu.arrivals == 0


def test_a_run_stopped_by_a_destination_that_stays_down_adds_up(
        shop: Shop, emu: GatedMeta) -> None:
    """The attack's failed run: 16,384 events read, and only the requests tried or queued
    were counted. The events read but never sent are pending (DuckDB hands over more
    than the two requests tried and queued)."""
    shop.write_orders(MANY)
    shop.write_job(concurrency=1)
    emu.server_error(503, times=10_000)
    summary = shop.run()
    assert summary.status == "failed"
    run = assert_adds_up(shop, "failed", summary.counts)
    assert run["delivered"] == 0 and 1000 <= run["failed"] <= 2000
    assert run["events"] > run["failed"] and run["pending"] == run["events"] - run["failed"]
    emu.clear_faults()
    again = shop.run()
    assert again.counts.delivered == MANY and len(emu.accepted_ids()) == MANY
    assert_adds_up(shop, "succeeded", again.counts)


def test_a_run_stopped_by_a_fatal_answer_after_some_deliveries_adds_up(
        shop: Shop, emu: GatedMeta, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three requests delivered, then Meta says the token expired: the run stops."""
    shop.write_orders(MANY)
    shop.write_job(concurrency=1)
    expired = Fault(status=400, body={"error": {"code": 190, "error_subcode": 463,
                                                "message": "expired"}})
    take, seen = emu._take_fault, {"n": 0}

    def fourth_expires(path: str) -> Fault | None:
        seen["n"] += 1
        return expired if seen["n"] == 4 else take(path)

    monkeypatch.setattr(emu, "_take_fault", fourth_expires)
    summary = shop.run()
    assert summary.status == "failed" and "access token" in (summary.error or "")
    run = assert_adds_up(shop, "failed", summary.counts)
    assert run["delivered"] == len(emu.accepted_ids()) == 3000
    assert run["pending"] > 0


def test_an_interrupted_run_adds_up(shop: Shop, emu: GatedMeta) -> None:
    """The attack's interrupted run: SIGINT once some requests were delivered; what was
    read and not sent is pending."""
    shop.write_orders(MANY)
    shop.write_job(concurrency=1)

    def progress(counts: RunCounts) -> None:
        if counts.delivered >= 2000:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(pipeline.Interrupted):
        shop.run(progress=progress)
    run = assert_adds_up(shop, "interrupted")
    assert run["delivered"] >= 2000 and run["pending"] > 0
    assert run["delivered"] == len(emu.accepted_ids())


def test_a_run_that_runs_out_of_memory_while_streaming_adds_up(
        shop: Shop, emu: GatedMeta, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB runs out of memory after handing over the first batch of events."""
    shop.write_orders(MANY)
    shop.write_job(concurrency=1)
    stream = pipeline._Run._stream

    def short_of_memory(self, *args):  # type: ignore[no-untyped-def]
        for n, batch in enumerate(stream(self, *args)):
            if n == 1:
                raise warehouse.OutOfMemory("Out of Memory Error: could not allocate block")
            yield batch

    monkeypatch.setattr(pipeline._Run, "_stream", short_of_memory)
    with pytest.raises(Exception, match="(?i)memory"):
        shop.run()
    run = assert_adds_up(shop, "failed")
    assert 0 < run["events"] < MANY and run["pending"] > 0


def test_a_run_stopped_by_a_plugin_bug_adds_up(shop: Shop, emu: GatedMeta,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from plugins.meta.destination import MetaDestination

    shop.write_orders(MANY)
    shop.write_job(concurrency=1)
    deliver = MetaDestination.deliver
    calls = {"n": 0}

    def buggy(self, batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise ZeroDivisionError("a bug")
        return deliver(self, batch)

    monkeypatch.setattr(MetaDestination, "deliver", buggy)
    summary = shop.run()
    assert summary.status == "failed" and "ZeroDivisionError" in (summary.error or "")
    run = assert_adds_up(shop, "failed", summary.counts)
    assert run["delivered"] == 2000 and run["pending"] > 0


@pytest.mark.slow
def test_a_killed_run_is_counted_from_its_ledger(shop: Shop, emu: GatedMeta) -> None:
    """kill -9 after one request was committed: the next run marks the run killed with
    the counts its ledger holds (what the dead process read is not known)."""
    shop.write_orders(3000)
    shop.write_job()
    kill_after_one_commit(shop, emu)
    emu.release(process=False)
    shop.run()
    killed = shop.runs()[0]
    assert killed["status"] == "killed"
    assert (killed["events"], killed["delivered"], killed["pending"]) == (1000, 1000, 0)
    assert killed["events"] == sum(killed[name] for name in COUNTS[1:])
