"""The ``jsonl`` destination: append each event as one JSON line to a local file.

For trying offramp without an ad account, for debugging a query, and for handing
events to another tool. Any query works: the ``id`` column is the event key, and
every column becomes a field of the event.

Job header::

    /* offramp
    destination = "jsonl"
    [settings]
    path = "out/events.jsonl"     # relative to the project folder
    */
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from connector.kit import (
    Batch,
    Column,
    Contract,
    Destination,
    Limits,
    Outcome,
    Settings,
    hookimpl,
    shaped_schema,
)
from connector.kit.events import SOURCE_ROWS
from connector.kit.sql import identifier, literal


class JsonlSettings(Settings):
    path: str = "events.jsonl"
    """Where to append events (relative to the project folder); created with its folder
    if missing."""


class JsonlDestination(Destination):
    name = "jsonl"
    summary = "Append events as JSON lines to a local file"
    contract = Contract(required=(Column("id", "any", "a unique id per event"),))
    Settings = JsonlSettings
    limits = Limits(max_events=5000, max_bytes=16_000_000, concurrency=1)
    events_schema = shaped_schema(SOURCE_ROWS)

    settings: JsonlSettings
    _lock = threading.Lock()

    def shape_sql(self, source: str, columns: dict[str, str]) -> str:
        # JSON has no NaN or infinity: DuckDB would write them as bare NaN/Infinity,
        # which strict JSON readers refuse. Such rows are rejected with the column's name.
        checks = ["WHEN src.id IS NULL THEN 'id is missing'"]
        for name, dtype in columns.items():
            if dtype.upper() in ("DOUBLE", "FLOAT", "REAL"):
                reason = literal(f"{name} is NaN or infinite: JSON cannot carry it")
                checks.append(f"WHEN NOT isfinite(src.{identifier(name)}) THEN {reason}")
        reject = f"CASE {' '.join(checks)} END"
        return (f"SELECT CAST(src.id AS VARCHAR) AS event_key, NULL::VARCHAR AS route, "
                f"CASE WHEN ({reject}) IS NULL THEN to_json(src)::VARCHAR END AS payload, "
                f"{reject} AS reject_reason, 1 AS source_rows FROM {source} AS src")

    def encode(self, batch: Batch) -> bytes:
        return ("\n".join(batch.payloads) + "\n").encode()

    def deliver(self, batch: Batch) -> Outcome:
        path = Path(self.settings.path).expanduser()
        if not path.is_absolute() and self.context.root is not None:
            path = self.context.root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        data = self.encode(batch)
        with self._lock, open(path, "ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return Outcome(info={"bytes": len(data)})


@hookimpl
def register_destinations(register):
    register(JsonlDestination)
