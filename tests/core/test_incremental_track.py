"""What an incremental run notes of each shaped event (connector.run.incremental.track):
its key, and whether it is a lasting reject, one the clock cannot change."""

from __future__ import annotations

from types import SimpleNamespace

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connector.run.incremental import TRACKED, Incremental


@pytest.fixture
def incremental(tmp_path):
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS state")
    engine = SimpleNamespace(con=con, rows=lambda sql: con.execute(sql).fetchall())
    inc = Incremental(engine, "source", "src.k", "salt", skip=True, write=True,
                      scratch=(tmp_path / "spill", "job"))
    inc.fingerprinted = True  # as start() leaves it
    yield inc
    inc.close()
    con.close()


def events(reasons, unchanged, timed=None) -> pa.RecordBatch:
    n = len(reasons)
    columns = {"event_key": [f"e{i}" for i in range(n)], "route": ["r"] * n,
               "reject_reason": pa.array(reasons, pa.string()), "fingerprint": ["f"] * n,
               "source_rows": [1] * n, "source_key": [f"k{i}" for i in range(n)],
               "unchanged": unchanged, "payload": ["{}"] * n}
    if timed is not None:
        columns["reject_timed"] = pa.array(timed, pa.bool_())
    return pa.RecordBatch.from_pydict(columns)


def test_lasting_rejects_are_those_the_clock_cannot_change(incremental) -> None:
    incremental.track(events(["returned", "too old", None, "returned", "no contact"],
                             [False, False, False, True, False],
                             [False, True, None, False, None]))
    incremental.track(events([], []))  # an empty batch writes nothing
    incremental._tracked.close()
    noted = pq.read_table(incremental.events_file)
    assert noted.schema == TRACKED
    # a reject marked not timed lasts; one marked timed, or not marked, may change
    # with the clock; an unchanged event (not shaped again) is no reject of this run
    assert noted.column("lasting").to_pylist() == [True, False, False, False, False]
    assert noted.column("source_key").to_pylist() == ["k0", "k1", "k2", "k3", "k4"]


def test_without_a_reject_timed_column_no_reject_lasts(incremental) -> None:
    incremental.track(events(["returned", None], [False, False]))
    incremental._tracked.close()
    assert pq.read_table(incremental.events_file).column("lasting").to_pylist() == [False, False]


def test_nothing_is_noted_before_the_fingerprint_pass_or_in_a_dry_run(incremental) -> None:
    incremental.fingerprinted = False
    incremental.track(events(["returned"], [False], [False]))
    incremental.fingerprinted, incremental.write = True, False
    incremental.track(events(["returned"], [False], [False]))
    assert incremental._tracked is None and not incremental.events_file.exists()


def test_close_removes_the_scratch_file(incremental) -> None:
    incremental.track(events([None], [False], [False]))
    assert incremental.events_file.exists()
    incremental.close()
    incremental.close()  # twice is fine
    assert not incremental.events_file.exists()
