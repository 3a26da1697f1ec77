"""The state file's writes: an outcome is recorded whole or not at all."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from reliability_kit import GatedMeta, Shop

from connector.kit.runs import RunCounts
from connector.state import State


def test_a_destination_reject_goes_to_the_ledger_and_the_rejects_table_or_neither() -> None:
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS state").fetchall()
    state = State(con)
    run = state.start_run("sync", "meta", False, dt.datetime(2026, 1, 1))
    state.record(run, "rejected", ["o1"], ["fp1"], None, ["bad value"])
    assert con.execute("SELECT count(*) FROM state.rejects").fetchall() == [(1,)]
    # Break the second write: the first must not stay behind on its own.
    con.execute("DROP TABLE state.rejects").fetchall()
    con.execute("CREATE VIEW state.rejects AS SELECT 1 AS run_id").fetchall()
    with pytest.raises(duckdb.Error):
        state.record(run, "rejected", ["o2", "o3"], ["fp2", "fp3"], None, ["x", "y"])
    assert con.execute("SELECT event_key FROM state.ledger ORDER BY seq").fetchall() == [("o1",)]
    state.record(run, "delivered", ["o4"], ["fp4"], None)  # the connection still works
    assert con.execute("SELECT count(*) FROM state.ledger").fetchall() == [(2,)]


def test_a_failed_run_lets_go_of_the_state_file_at_once(shop: Shop, emu: GatedMeta) -> None:
    """A caller that keeps the exception (a notebook, a test, a supervisor) keeps its
    traceback and every frame in it: the state file must be released anyway, so the
    job can be inspected and run again in the same process."""
    shop.write_orders(3000)
    shop.write_job()

    def progress(counts: RunCounts) -> None:  # called as soon as the first events are read
        raise RuntimeError("the progress display broke")

    with pytest.raises(RuntimeError) as raised:
        shop.run(progress=progress)
    assert [r["status"] for r in shop.runs()] == ["failed"]
    assert shop.run().status == "succeeded"
    assert "progress display" in str(raised.value)  # still held while the above ran
