"""Group commits of the delivering threads' outcomes (connector.run.recording).

One thread at a time writes; results that arrive meanwhile are committed together by
the next write, and every thread returns only once its own outcomes are in the ledger.
A write that fails fails every result of its group, and the next group is written.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import duckdb
import pytest

from connector.kit.destination import Batch
from connector.run.delivery import Result
from connector.run.recording import LedgerWriter
from connector.state.store import State


@pytest.fixture
def con(tmp_path):
    con = duckdb.connect()
    con.execute(f"ATTACH '{tmp_path / 'state.duckdb'}' AS state")
    State(con)
    yield con
    con.close()


def result(name: str, route: str, *, rejected: bool = False) -> Result:
    keys = [f"{name}-{i}" for i in range(3)]
    r = Result(Batch(route, keys, ["{}"] * 3), [f"fp-{k}" for k in keys])
    if rejected:
        r.rejected = {0: "refused", 1: "refused"}
        r.delivered = [2]
    else:
        r.delivered = [0, 1, 2]
    return r


def ledger(con) -> dict[str, tuple[Any, ...]]:
    rows = con.cursor().execute("SELECT event_key, status, route, reason, fingerprint "
                                "FROM state.ledger").fetchall()
    return {r[0]: r[1:] for r in rows}


class Held:
    """State.record_outcomes, the first call held until ``release`` is set; every call
    noted (its event keys)."""

    def __init__(self, monkeypatch, fail_second: bool = False):
        self.calls: list[list[str]] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self.fail_second = fail_second
        original = State.record_outcomes

        def record(state, run_id, outcomes):
            self.calls.append(outcomes.column("event_key").to_pylist())
            if len(self.calls) == 1:
                self.entered.set()
                assert self.release.wait(10)
            elif len(self.calls) == 2 and self.fail_second:
                raise OSError(28, "No space left on device")
            return original(state, run_id, outcomes)

        monkeypatch.setattr(State, "record_outcomes", record)


def queued(writer: LedgerWriter, n: int) -> None:
    """Wait (at most 10 s) until ``n`` results wait for the write in progress."""
    deadline = time.monotonic() + 10
    while len(writer._waiting) < n:
        assert time.monotonic() < deadline, "the results never queued"
        time.sleep(0.001)


def start(writer: LedgerWriter, r: Result, seen: dict[str, Any], con) -> threading.Thread:
    def deliver() -> None:
        try:
            writer.record(r)
        except OSError as exc:
            seen[r.batch.keys[0]] = exc
            return
        # record returned: this result's outcomes are committed
        seen[r.batch.keys[0]] = {k for k in r.batch.keys if k in ledger(con)}

    thread = threading.Thread(target=deliver, name=f"deliver-{r.batch.keys[0]}")
    thread.start()
    return thread


def test_results_waiting_for_a_write_are_committed_together(con, monkeypatch) -> None:
    held = Held(monkeypatch)
    writer = LedgerWriter(con.cursor, run_id=1)
    seen: dict[str, Any] = {}
    first = start(writer, result("a", "r1"), seen, con)
    assert held.entered.wait(10)
    others = [start(writer, result(n, f"r{n}"), seen, con) for n in ("b", "c", "d")]
    queued(writer, 3)  # the three wait behind the held write
    held.release.set()
    for thread in [first, *others]:
        thread.join(10)
    # one write for the first result, one for the three that waited
    # (the three threads queue in the order the machine runs them)
    assert [sorted(keys) for keys in held.calls] == [
        ["a-0", "a-1", "a-2"], ["b-0", "b-1", "b-2", "c-0", "c-1", "c-2", "d-0", "d-1", "d-2"]]
    for name in "abcd":
        assert seen[f"{name}-0"] == {f"{name}-{i}" for i in range(3)}
    rows = ledger(con)
    assert rows["c-1"] == ("delivered", "rc", None, "fp-c-1")  # each row keeps its route
    assert len(rows) == 12
    writer.close()


def test_a_group_keeps_each_status_reason_and_route(con) -> None:
    writer = LedgerWriter(con.cursor, run_id=1)
    from connector.run import recording

    recording._write(writer.state, 1, [result("a", "r1", rejected=True),
                                            result("b", "r2", rejected=True)], lambda w: w())
    rows = ledger(con)
    assert rows["a-0"] == ("rejected", "r1", "refused", "fp-a-0")
    assert rows["b-1"] == ("rejected", "r2", "refused", "fp-b-1")
    assert rows["b-2"] == ("delivered", "r2", None, "fp-b-2")
    rejects = con.cursor().execute("SELECT event_key, route, reason FROM state.rejects "
                                   "ORDER BY event_key").fetchall()
    assert rejects == [("a-0", "r1", "refused"), ("a-1", "r1", "refused"),
                       ("b-0", "r2", "refused"), ("b-1", "r2", "refused")]
    writer.close()


def test_a_failed_group_write_fails_each_of_its_results_and_the_next_group_is_written(
        con, monkeypatch) -> None:
    held = Held(monkeypatch, fail_second=True)
    writer = LedgerWriter(con.cursor, run_id=1)
    seen: dict[str, Any] = {}
    first = start(writer, result("a", "r"), seen, con)
    assert held.entered.wait(10)
    group = [start(writer, result(n, "r"), seen, con) for n in ("b", "c")]
    queued(writer, 2)
    held.release.set()
    for thread in [first, *group]:
        thread.join(10)
    assert isinstance(seen["b-0"], OSError) and isinstance(seen["c-0"], OSError)
    assert seen["a-0"] == {"a-0", "a-1", "a-2"}
    # the lead was handed back: a later result is written as usual
    writer.record(result("e", "r"))
    assert set(ledger(con)) == {"a-0", "a-1", "a-2", "e-0", "e-1", "e-2"}
    writer.close()
