"""The pipeline's Arrow request cutting (a running sum of sizes and a search per request)
makes the same requests as adding events one at a time (the loop it replaced, kept below
as the reference), with each request's keys, fingerprints and JSON array in step."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from connector.run.cutting import Cutter
from connector.run.cutting import Pending as _Pending


def one_by_one(parts: list[list[str]], max_events: int, max_bytes: int) -> list[list[str]]:
    """The original loop of ``_Run._cut``: flush before an event that does not fit
    (sizes in UTF-8 bytes, plus the comma)."""
    requests, payloads, size = [], [], 0
    for part in parts:
        for p in part:
            n = len(p.encode()) + 1
            if payloads and (len(payloads) >= max_events or size + n > max_bytes):
                requests.append(payloads)
                payloads, size = [], 0
            payloads.append(p)
            size += n
    return requests + ([payloads] if payloads else [])


def sliced(parts: list[list[str]], max_events: int, max_bytes: int) -> list[list[str]]:
    pending, requests = _Pending(), []
    for n, part in enumerate(parts):
        table = pa.table({"event_key": [f"k{n}-{i}" for i in range(len(part))],
                          "payload": pa.array(part, pa.string()),
                          "fingerprint": [f"f{n}-{i}" for i in range(len(part))]})
        for events in pending.add(table, max_events, max_bytes):
            keys, fps = events.column("event_key").to_pylist(), events.column(
                "fingerprint").to_pylist()
            assert [k[1:] for k in keys] == [f[1:] for f in fps]
            requests.append(events.column("payload").to_pylist())
    if pending.count:
        requests.append(pending._take().column("payload").to_pylist())
    return requests


@pytest.mark.parametrize("seed", range(40))
def test_same_requests_as_one_event_at_a_time(seed: int) -> None:
    rng = random.Random(seed)
    max_events = rng.choice([1, 2, 3, 7, 50, 1000])
    max_bytes = rng.choice([5, 40, 100, 1000, 8_000_000])
    parts = [["é" * rng.choice([0, 1, 3, 10, 30, 120]) + str(i) for i in range(rng.randrange(60))]
             for _ in range(rng.randrange(1, 6))]
    expected = one_by_one(parts, max_events, max_bytes)
    assert sliced(parts, max_events, max_bytes) == expected
    assert sum(map(len, expected)) == sum(map(len, parts))


def test_an_event_larger_than_the_limit_goes_alone() -> None:
    parts = [["a" * 10, "b" * 100, "c"]]
    assert sliced(parts, 10, 50) == [["a" * 10], ["b" * 100], ["c"]]


def test_sizes_are_utf8_bytes_not_characters() -> None:
    parts = [["é" * 10, "é" * 10, "a"]]  # 20 bytes each in UTF-8, 10 characters
    assert sliced(parts, 10, 42) == [["é" * 10, "é" * 10], ["a"]]
    assert sliced(parts, 10, 41) == [["é" * 10], ["é" * 10, "a"]]


@pytest.mark.parametrize("some_rows", [False, True])
@pytest.mark.parametrize("seed", range(20))
def test_the_cutter_keeps_routes_apart_and_each_request_in_step(seed: int,
                                                                some_rows: bool) -> None:
    """Per route, the same requests as one at a time; each batch's keys, payloads,
    fingerprints and joined JSON array agree. Fed the indices of some rows only (the
    pipeline's events to send), it cuts as if the table held those rows alone: the
    others' payloads are NULL here, as the ledger diff leaves them, and never read."""
    rng = random.Random(seed)
    max_events, max_bytes = rng.choice([1, 3, 50]), rng.choice([20, 100, 10_000])
    routes = ["r1", "r2", None]
    feeds = [[(rng.choice(routes), f'{{"e":"{"é" * rng.randrange(12)}{n}-{i}"}}')
              for i in range(rng.randrange(40))] for n in range(rng.randrange(1, 5))]
    chosen = [[not some_rows or rng.random() < 0.6 for _ in feed] for feed in feeds]
    cutter, got = Cutter(max_events, max_bytes), []
    for n, feed in enumerate(feeds):
        table = pa.table({"event_key": [f"k{n}-{i}" for i in range(len(feed))],
                          "route": pa.array([r for r, _ in feed], pa.string()),
                          "payload": pa.array([p if chosen[n][i] else None
                                               for i, (_, p) in enumerate(feed)], pa.string()),
                          "fingerprint": [f"f{n}-{i}" for i in range(len(feed))]})
        rows = pa.array([i for i, c in enumerate(chosen[n]) if c], pa.uint64())
        got += list(cutter.feed(table, rows) if some_rows else cutter.feed(table))
    got += list(cutter.flush())
    for batch, fps in got:
        assert [k[1:] for k in batch.keys] == [f[1:] for f in fps.to_pylist()]
        assert batch.array() == "[" + ",".join(batch.payloads) + "]"
        assert batch.array_bytes() == batch.array().encode()
        assert len(batch) == len(batch.payloads) == len(batch.keys) == len(fps)
    feeds = [[event for event, c in zip(feed, chosen[n], strict=True) if c]
             for n, feed in enumerate(feeds)]
    present = {r for feed in feeds for r, _ in feed}
    for route in present:
        expected = one_by_one([[p for r, p in feed if r == route] for feed in feeds],
                              max_events, max_bytes)
        assert [list(b.payloads) for b, _ in got if b.route == route] == expected


def test_a_request_owns_its_buffers() -> None:
    """A request's arrays are copies, not slices of the table fed: a slice would keep the
    whole batch alive while the request is in flight."""
    n = 100
    table = pa.table({"event_key": [f"k{i}" for i in range(n)],
                      "route": pa.nulls(n, pa.string()),
                      "payload": ["x" * 100] * n, "fingerprint": [f"f{i}" for i in range(n)]})
    batches = list(Cutter(10, 10_000).feed(table))
    assert len(batches) == 9  # the tenth is still filling up
    batch, fps = batches[0]
    assert batch.key_array().buffers()[2].size == sum(len(f"k{i}") for i in range(10))
    payloads = batch._payloads
    assert isinstance(payloads, pa.Array) and payloads.buffers()[2].size == 10 * 100
    assert fps.buffers()[2].size == sum(len(f"f{i}") for i in range(10))


def test_a_request_holds_the_rows_chosen_only() -> None:
    """Fed the indices of the rows to send, a request holds those rows' payloads only,
    taken from the table as the request is cut: the others (here 100 KB each) are not
    copied along the way."""
    n = 40
    table = pa.table({"event_key": [f"k{i}" for i in range(n)],
                      "route": pa.nulls(n, pa.string()),
                      "payload": ["y" * 100_000 if i % 2 else "x" * 10 for i in range(n)],
                      "fingerprint": [f"f{i}" for i in range(n)]})
    rows = pa.array(range(0, n, 2), pa.uint64())
    cutter = Cutter(1000, 10_000)
    batches = list(cutter.feed(table, rows)) + list(cutter.flush())
    assert len(batches) == 1
    batch, fps = batches[0]
    assert batch.keys == [f"k{i}" for i in range(0, n, 2)]
    assert fps.to_pylist() == [f"f{i}" for i in range(0, n, 2)]
    payloads = batch._payloads
    assert isinstance(payloads, pa.Array) and payloads.buffers()[2].size == 20 * 10
    assert batch.array_bytes() == b"[" + b",".join([b"x" * 10] * 20) + b"]"
