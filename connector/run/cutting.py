"""Streaming helpers for a run: the per-route buffers that cut events into requests.

:class:`Cutter` serves both engines: the DuckDB pipeline and the Spark tasks feed it
the events to send.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connector.kit.destination import Batch

#: Stands for "every event" when no event names a route.
ALL = object()


class Pending:
    """The events of one route waiting for their request to fill up."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.payloads: list[str] = []
        self.fps: list[str] = []
        self.size = 0  # payload bytes (UTF-8) plus one comma per event

    def add(self, part: pa.Table, max_events: int,
            max_bytes: int) -> Iterator[tuple[list[str], list[str], list[str]]]:
        """Append the events of ``part``, yielding each request that fills up: at most
        ``max_events`` events and ``max_bytes`` (payload bytes in UTF-8 plus a comma
        each).

        Runs of events that fit whole move with list slices; only a run that would go
        over the byte limit is walked one event at a time. The requests are the same as
        adding the events one by one."""
        keys_in = part.column("event_key").to_pylist()
        payloads_in = part.column("payload").to_pylist()
        fps_in = part.column("fingerprint").to_pylist()
        sizes = pc.add(pc.binary_length(part.column("payload")), 1).to_pylist()
        i, n = 0, len(keys_in)
        while i < n:
            room = max_events - len(self.keys)
            if room <= 0:
                yield self._take()
                continue
            j = min(n, i + room)
            run = sum(sizes[i:j])
            if self.size + run <= max_bytes:
                self.keys += keys_in[i:j]
                self.payloads += payloads_in[i:j]
                self.fps += fps_in[i:j]
                self.size += run
                i = j
                continue
            while i < j:
                if self.keys and self.size + sizes[i] > max_bytes:
                    yield self._take()
                    break
                self.keys.append(keys_in[i])
                self.payloads.append(payloads_in[i])
                self.fps.append(fps_in[i])
                self.size += sizes[i]
                i += 1

    def _take(self) -> tuple[list[str], list[str], list[str]]:
        taken = (self.keys, self.payloads, self.fps)
        self.keys, self.payloads, self.fps, self.size = [], [], [], 0
        return taken


class Cutter:
    """Cuts events into requests of at most ``max_events`` and ``max_bytes``, one
    :class:`Pending` buffer per route. The bytes counted are those of the JSON array the
    request body holds: each payload and the comma after it."""

    def __init__(self, max_events: int, max_bytes: int):
        self.max_events, self.max_bytes = max_events, max_bytes
        self.pending: dict[str | None, Pending] = {}

    def feed(self, send: pa.Table) -> Iterator[tuple[Batch, list[str]]]:
        """Add events (``event_key``, ``route``, ``payload``, ``fingerprint``); yields
        each request that fills up, with its events' fingerprints."""
        for route in routes(send):
            part = send if route is ALL else send.filter(
                pc.equal(send.column("route"), route) if route is not None
                else pc.is_null(send.column("route")))
            key = None if route is ALL else route
            buffer = self.pending.setdefault(key, Pending())
            for keys, payloads, fps in buffer.add(part, self.max_events, self.max_bytes):
                yield Batch(key, keys, payloads), fps

    def flush(self) -> Iterator[tuple[Batch, list[str]]]:
        """The requests still filling up."""
        for key, buffer in self.pending.items():
            if buffer.keys:
                yield Batch(key, buffer.keys, buffer.payloads), buffer.fps
        self.pending.clear()


def routes(table: pa.Table) -> list[Any]:
    routes = table.column("route")
    if routes.null_count == len(routes):
        return [ALL]
    return pc.unique(routes).to_pylist()


def value_counts(column: pa.ChunkedArray) -> tuple[list[str], list[int]]:
    counts = pc.value_counts(column)
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()
