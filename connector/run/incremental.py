"""Incremental runs: the rows of keys that did not change are skipped before shaping.

A destination that groups rows into events by a key (Meta groups by ``order_id``)
declares it with :meth:`~connector.kit.destination.Destination.source_key`. Each run
then starts with one cheap pass over the job's rows (``fingerprints``): per key, a
fingerprint of its rows (the sum of each row's hash, the number of rows, and a salt
for everything else the events depend on). A key whose fingerprint is the one kept
in ``state.sources`` is not shaped at all: its events count as unchanged. Only the
other keys' rows are shaped and diffed against the ledger as before.

A key enters ``state.sources`` only at the end of a run, and only when every event
made from it is settled with this run's payload: delivered or refused by the
destination (this run or before), or rejected before sending for a reason the clock
cannot change (the shaping's ``reject_timed`` is FALSE; such rejects are kept in
``state.source_rejects`` and recorded again on every run that skips the key), never
failed or left pending. Before anything is sent, the keys about
to be shaped again are removed from it. So whatever stops a run (a crash, Ctrl-C, a
failing API), ``state.sources`` only names keys whose events the destination holds
exactly as their rows would make them now; at worst a key is shaped again for
nothing, and the ledger diff still decides what is sent.

The salt is the destination's shaping SQL written for a fixed clock, the job's SQL
and its column types: a change to the settings, the query or the plugin's shaping
changes every fingerprint, and the next run shapes everything once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connector.engines.warehouse import Engine
from connector.kit.errors import OfframpError
from connector.kit.events import (
    EVENT_KEY,
    REJECT_REASON,
    REJECT_TIMED,
    ROUTE,
    SOURCE_KEY,
    SOURCE_ROWS,
)
from connector.kit.sql import literal
from connector.state import Skipped, Sources

#: What :meth:`Incremental.track` notes of each shaped event.
TRACKED = pa.schema([(SOURCE_KEY, pa.string()), (EVENT_KEY, pa.string()),
                     (ROUTE, pa.string()), (REJECT_REASON, pa.string()),
                     ("unchanged", pa.bool_()), ("lasting", pa.bool_())])

#: The clock the salt's shaping SQL is written for: any fixed instant would do.
SALT_CLOCK = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

#: Bumped when the fingerprint's definition changes, so that old ones never match.
VERSION = "1"

#: The temporary view of the keys' fingerprints.
KEYS = "offramp_keys"


def salt(shape_sql: str, job_sql: str, columns: dict[str, str]) -> str:
    """What the events depend on besides the rows: ``shape_sql`` is the destination's
    SQL for a fixed clock (:data:`SALT_CLOCK`)."""
    text = "\x1f".join([VERSION, shape_sql, job_sql,
                        *(f"{name}:{kind}" for name, kind in columns.items())])
    return hashlib.sha256(text.encode()).hexdigest()


class Incremental:
    """One run's use of the remembered keys (:class:`connector.state.Sources`), on the
    engine's connection, where the job's rows are the view ``source`` and the state file
    is attached.

    :param key: the destination's key, a SQL expression over the row ``src``.
    :param salt: see :func:`salt`.
    :param skip: skip unchanged keys (False for a full run).
    :param write: keep the remembered keys up to date (False for a dry run).
    :param scratch: the folder for the run's scratch files (the engine's spill folder,
        which it may read and write) and their name (the job's: a job runs once at a
        time): the keys' fingerprints, and what :meth:`track` notes during the run. Both
        stay out of DuckDB's memory while the events are shaped.
    """

    def __init__(self, engine: Engine, source: str, key: str, salt: str, *, skip: bool,
                 write: bool, scratch: tuple[Path, str]):
        self.engine, self.source, self.key = engine, source, key
        self.sources = Sources(engine.con)
        self.salt, self.skip, self.write = salt, skip, write
        folder, name = scratch
        self.events_file = folder / f"{name}.events.parquet"
        self.keys_file = folder / f"{name}.keys.parquet"
        self._tracked: pq.ParquetWriter | None = None
        self.fingerprinted = False
        self.skipped = Skipped()

    @staticmethod
    def columns(shaped: dict[str, str], destination: str) -> list[str]:
        """The shaping's columns this module reads (for the diff to pass through)."""
        if SOURCE_KEY not in shaped:
            raise OfframpError(f"the {destination} destination declares source_key(), but its "
                               "shape_sql() has no source_key column (a plugin bug)")
        return [c for c in (SOURCE_KEY, REJECT_TIMED) if c in shaped]

    def start(self, run_id: int, protect: Callable[[], Any]) -> Skipped:
        """Fingerprint every key's rows, find the unchanged ones, report their lasting
        rejects again under ``run_id`` and, before anything is sent, forget the keys
        about to be shaped again. ``protect()`` gives a context in which a SIGINT waits."""
        known = self.skip and self.sources.any_known()
        if not (known or self.write):
            return Skipped()  # nothing to skip and nothing to keep: no pass needed
        # On disk, not a temporary table: the keys of a large job would take memory the
        # shaping query needs next.
        self.keys_file.parent.mkdir(parents=True, exist_ok=True)
        self.engine.rows(f"""
            COPY (SELECT {self.key} AS {SOURCE_KEY},
                         hash(count(*), sum(hash(src)), {literal(self.salt)}) AS fingerprint,
                         count(*) AS {SOURCE_ROWS}
                  FROM {self.source} AS src GROUP BY ALL)
            TO {literal(str(self.keys_file))} (FORMAT parquet, COMPRESSION uncompressed)""")
        self.engine.rows(f"CREATE OR REPLACE TEMP VIEW {KEYS} AS SELECT * FROM "
                         f"read_parquet({literal(str(self.keys_file))})")
        self.fingerprinted = True
        skipped = self.sources.find_unchanged(KEYS) if known else Skipped()
        with protect():
            if skipped.rejects:
                skipped.reasons = self.sources.report_rejects(run_id)
            if self.write:
                self.sources.forget(keep_skipped=bool(skipped.keys))
        self.skipped = skipped
        return skipped

    def rows(self) -> str:
        """The relation to shape: the job's rows, without those of the skipped keys.

        The rows kept are those of the keys to shape again (and rows without a key,
        never skipped), found by a semi-join on those keys: they are usually few, where
        an anti-join on the skipped keys would build a hash table of every unchanged
        key to probe every row with. When no key is left to shape the rows are not read
        again at all."""
        if not self.fingerprinted or not self.skipped.keys:
            return self.source
        self.engine.rows(f"""
            CREATE OR REPLACE TEMP TABLE offramp_shape AS
            SELECT k.{SOURCE_KEY} FROM {KEYS} AS k WHERE NOT EXISTS (
                SELECT 1 FROM offramp_skip AS s WHERE s.{SOURCE_KEY} = k.{SOURCE_KEY})""")
        if not self.engine.rows("SELECT count(*) FROM offramp_shape")[0][0]:
            return f"(SELECT * FROM {self.source} WHERE FALSE)"
        self.engine.rows(f"""
            CREATE OR REPLACE TEMP VIEW offramp_changed AS
            SELECT src.* FROM {self.source} AS src
            WHERE ({self.key}) IS NULL OR ({self.key}) IN (
                SELECT {SOURCE_KEY} FROM offramp_shape WHERE {SOURCE_KEY} IS NOT NULL)""")
        return "offramp_changed"

    def track(self, events: pa.RecordBatch) -> None:
        """Note which key made each shaped event, and whether it is a lasting reject: one
        refused before sending for a reason the clock cannot change.

        The notes go to a Parquet file (:attr:`events_file`) that :meth:`settle` reads,
        not to a DuckDB table: inserting into the engine that is streaming the events
        competes with the shaping query (docs/benchmarks.md), and the file keeps memory
        bounded.
        """
        if not self.write or not self.fingerprinted or not events.num_rows:
            return
        unchanged = events.column("unchanged")
        reason = events.column(REJECT_REASON)
        lasting = pc.and_(pc.invert(unchanged), pc.is_valid(reason))
        # Without a reject_timed column, every reject may change with the clock.
        if REJECT_TIMED in events.schema.names:
            timed = pc.fill_null(events.column(REJECT_TIMED), True)
            lasting = pc.and_(lasting, pc.invert(timed))
        else:
            lasting = pc.and_(lasting, pa.scalar(False))
        notes = pa.RecordBatch.from_arrays(
            [events.column(SOURCE_KEY), events.column(EVENT_KEY), events.column(ROUTE),
             reason, unchanged, lasting], names=TRACKED.names).cast(TRACKED)
        if self._tracked is None:
            self.events_file.parent.mkdir(parents=True, exist_ok=True)
            self._tracked = pq.ParquetWriter(self.events_file, TRACKED, use_dictionary=False,
                                             compression="none", write_statistics=False)
        self._tracked.write_batch(notes)

    def _events(self) -> str:
        """The relation of the events :meth:`track` noted (none if it noted none)."""
        if self._tracked is None:
            return ("(SELECT NULL::VARCHAR AS source_key, NULL::VARCHAR AS event_key, "
                    "NULL::VARCHAR AS route, NULL::VARCHAR AS reject_reason, "
                    "NULL::BOOLEAN AS unchanged, NULL::BOOLEAN AS lasting WHERE FALSE)")
        self._tracked.close()
        return f"read_parquet({literal(str(self.events_file))})"

    def settle(self, run_id: int) -> int:
        """Remember the keys all of whose events are now settled
        (:meth:`connector.state.Sources.settle`); returns how many."""
        if not self.write or not self.fingerprinted:
            return 0
        return self.sources.settle(run_id, self._events(), KEYS)

    def close(self) -> None:
        if self._tracked is not None:
            self._tracked.close()
            self._tracked = None
        self.events_file.unlink(missing_ok=True)
        self.keys_file.unlink(missing_ok=True)
