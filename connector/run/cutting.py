"""Cutting events into requests, per route, without a Python object per event.

:class:`Cutter` serves both engines: the DuckDB pipeline and the Spark tasks feed it
Arrow tables of events, with the rows to send, and get back one
:class:`~connector.kit.Batch` per request whose keys, payloads and fingerprints are Arrow
arrays and whose JSON array is joined by Arrow as UTF-8 bytes. Python works once per
request: the cut is the greedy one (each request takes every next event that fits, in
order), found with a running sum of the event sizes and a binary search per request, not
a walk over events. The rows to send are taken from what was fed only when a request is
cut, so the payloads are copied once on their way into a request, not filtered first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connector.kit.destination import Batch

#: Stands for "every event" when no event names a route.
ALL = object()

#: What the cutter needs of each event.
COLUMNS = ["event_key", "payload", "fingerprint"]


class Pending:
    """The events of one route waiting for their request to fill up: the tables fed
    with the rows of each that are waiting (a slice of the table, or the indices of its
    rows), and their count and size."""

    def __init__(self) -> None:
        self.parts: list[tuple[pa.Table, pa.Array | None]] = []
        self.count = 0
        self.size = 0  # payload bytes (UTF-8) plus one comma per event

    def add(self, part: pa.Table, max_events: int, max_bytes: int,
            rows: pa.Array | None = None) -> Iterator[pa.Table]:
        """Append the events of ``part`` (those at ``rows``, ascending indices, when
        given), yielding each request that fills up: at most ``max_events`` events and
        ``max_bytes`` (payload bytes in UTF-8 plus a comma each); an event alone larger
        than that still makes a request of its own.

        The requests are those of adding the events one by one and starting a new
        request whenever the next event does not fit: for each request, the events
        that fit are found at once in the running sum of their sizes."""
        n = part.num_rows if rows is None else len(rows)
        if not n:
            return
        if rows is not None and rows.type != pa.int64():
            # pc.indices_nonzero gives uint64 indices; Arrow's take, run on every
            # request's rows, is faster with int64 ones (docs/benchmarks.md).
            rows = rows.cast(pa.int64())
        sizes = pc.add(pc.binary_length(part.column("payload")), 1)
        if rows is not None:
            sizes = pc.take(sizes, rows)
        # ends[j]: the size of the first j + 1 events added.
        ends = pc.cumulative_sum(sizes.combine_chunks() if isinstance(sizes, pa.ChunkedArray)
                                 else sizes)
        i = 0
        while i < n:
            room = max_events - self.count
            if room <= 0:
                yield self._take()
                continue
            before = ends[i - 1].as_py() if i else 0
            j = _fitting(ends, i, min(n, i + room), before + max_bytes - self.size)
            if j == i:  # the next event does not fit
                if self.count:
                    yield self._take()
                    continue
                j = i + 1  # alone, it goes anyway
            self.parts.append((part.slice(i, j - i), None) if rows is None
                              else (part, rows.slice(i, j - i)))
            self.count += j - i
            self.size += ends[j - 1].as_py() - before
            i = j

    def _take(self) -> pa.Table:
        """The pending events as one request, copied into buffers of its own: a slice
        would keep its whole batch alive as long as the request is in flight."""
        pieces = [part.select(COLUMNS) if rows is None else part.select(COLUMNS).take(rows)
                  for part, rows in self.parts]
        if len(self.parts) == 1 and self.parts[0][1] is not None:
            taken = pieces[0].combine_chunks()  # taken rows are a copy already
        else:
            taken = pa.Table.from_arrays(
                [pa.concat_arrays([chunk for piece in pieces for chunk in piece[name].chunks])
                 for name in COLUMNS], names=COLUMNS)
        self.parts, self.count, self.size = [], 0, 0
        return taken


def _fitting(ends: pa.Array, start: int, stop: int, limit: int) -> int:
    """The largest ``j`` in ``[start, stop]`` with ``ends[j - 1] <= limit`` (``ends``
    ascending; ``start`` when not even ``ends[start]`` fits)."""
    if ends[stop - 1].as_py() <= limit:
        return stop
    lo, hi = start, stop - 1  # ends[hi] > limit; find the first index over the limit
    while lo < hi:
        mid = (lo + hi) // 2
        if ends[mid].as_py() <= limit:
            lo = mid + 1
        else:
            hi = mid
    return lo


def request(route: str | None, events: pa.Table) -> tuple[Batch, pa.Array]:
    """One request of ``events`` (one chunk each of :data:`COLUMNS`): its batch, with
    the JSON array of its payloads joined by Arrow as UTF-8 bytes (never decoded into a
    Python string), and its events' fingerprints."""
    payloads = events.column("payload").chunk(0)
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(payloads)], pa.int32()),
                                                     payloads), ",")[0].as_buffer()
    batch = Batch(route, events.column("event_key").chunk(0), payloads,
                  array=b"".join((b"[", joined, b"]")))
    return batch, events.column("fingerprint").chunk(0)


class Cutter:
    """Cuts events into requests of at most ``max_events`` and ``max_bytes``, one
    :class:`Pending` buffer per route. The bytes counted are those of the JSON array the
    request body holds: each payload and the comma after it."""

    def __init__(self, max_events: int, max_bytes: int):
        self.max_events, self.max_bytes = max_events, max_bytes
        self.pending: dict[str | None, Pending] = {}

    def feed(self, events: pa.Table,
             rows: pa.Array | None = None) -> Iterator[tuple[Batch, pa.Array]]:
        """Add events (``event_key``, ``route``, ``payload``, ``fingerprint``): those at
        ``rows`` (ascending indices into ``events``), or all of them; yields each request
        that fills up, with its events' fingerprints. The payloads of the rows left out
        are never copied."""
        column = events.column("route").combine_chunks()  # short: copied, if at all
        sent = column if rows is None else pc.take(column, rows)
        for route in routes(sent):
            if route is ALL:
                part_rows = rows
            else:
                mine = (pc.equal(sent, route) if route is not None else pc.is_null(sent))
                part_rows = pc.indices_nonzero(mine) if rows is None else pc.filter(rows, mine)
            key = None if route is ALL else route
            buffer = self.pending.setdefault(key, Pending())
            for taken in buffer.add(events, self.max_events, self.max_bytes, part_rows):
                yield request(key, taken)

    def flush(self) -> Iterator[tuple[Batch, pa.Array]]:
        """The requests still filling up."""
        for key, buffer in self.pending.items():
            if buffer.count:
                yield request(key, buffer._take())
        self.pending.clear()


def routes(routes: pa.Array | pa.ChunkedArray) -> list[Any]:
    """The distinct routes, in order of first appearance, or ``[ALL]`` when none is
    named."""
    if routes.null_count == len(routes):
        return [ALL]
    return pc.unique(routes).to_pylist()


def value_counts(column: pa.ChunkedArray) -> tuple[list[str], list[int]]:
    counts = pc.value_counts(column)
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()
