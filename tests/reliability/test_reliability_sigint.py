"""SIGINT (Ctrl-C) stops a run cleanly: requests in flight finish and are recorded,
nothing queued is sent, the run is recorded as interrupted, the exit code is 130,
and the next run sends the rest, none twice."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest
from reliability_kit import SLOW, GatedMeta, Shop, spawn


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_while_requests_are_in_flight(shop: Shop, emu: GatedMeta, sig) -> None:
    shop.write_orders(4000)
    shop.write_job()  # four requests, two at a time
    emu.hold_after(1)
    proc = spawn(shop, "run", "sync", "--quiet")
    emu.wait_held(2)
    proc.wait_note(lambda notes: proc.delivered_commits() == 1, "one request committed")
    proc.popen.send_signal(sig)
    proc.wait_note(lambda notes: "sigint" in notes, "offramp's SIGINT handler")
    assert emu.release(keep_closed=True) == 2  # the two in flight finish
    code, out, err = proc.finish()
    assert code == 130, err
    assert "interrupted" in err and "run again to send the rest" in err
    assert "Traceback" not in out + err
    assert emu.arrivals == 3  # the queued request was never sent
    assert emu.requests_accepted == 3
    (run,) = shop.runs()
    assert run["status"] == "interrupted"
    assert run["error"] == f"stopped by the user ({sig.name})"
    assert run["delivered"] == 3000  # the requests in flight finished and were recorded
    ledger = shop.ledger()
    delivered = {k for k, status in ledger.items() if status == "delivered"}
    assert delivered == {k for batch in emu.sent() for k in batch}
    # Queued batches are recorded as failed ("not sent"), to go first next time;
    # a batch the reader had not cut yet is simply not in the ledger.
    assert set(ledger.values()) <= {"delivered", "failed"} and len(delivered) == 3000

    emu.release()  # open the gate
    summary = shop.run()
    assert summary.status == "succeeded"
    assert summary.counts.delivered == 1000 and summary.counts.unchanged == 3000
    assert emu.duplicates == 0
    assert Counter(emu.accepted_ids()) == Counter(f"o{i:05d}" for i in range(4000))
    assert [r["status"] for r in shop.runs()] == ["interrupted", "succeeded"]


def test_sigint_while_duckdb_shapes_stops_at_once(shop: Shop, emu: GatedMeta) -> None:
    """A query over the rows of many seconds (the fingerprint pass that comes before
    shaping) is interrupted at once, not run to its end."""
    shop.write_orders(3000)
    shop.write_job(where=SLOW)  # DuckDB alone would need about 40 s
    emu.hold_after(0)
    proc = spawn(shop, "run", "sync", "--quiet")
    # The first query over the rows is the pass that fingerprints each order.
    proc.wait_note(lambda notes: "fingerprint" in notes, "the first query over the rows")
    started = time.monotonic()
    proc.popen.send_signal(signal.SIGINT)
    code, out, err = proc.finish()
    assert time.monotonic() - started < 10
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in out + err
    assert emu.arrivals == 0
    assert [(r["status"], r["error"]) for r in shop.runs()] == [
        ("interrupted", "stopped by the user (SIGINT)")]
    assert shop.ledger() == {}

    assert emu.release() == 0
    shop.write_job()
    summary = shop.run()
    assert summary.status == "succeeded" and summary.counts.delivered == 3000
