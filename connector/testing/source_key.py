"""The conformance suite's check of a destination's
:meth:`~connector.kit.destination.Destination.source_key` (see
:func:`connector.testing.check_destination`): incremental runs skip the rows of
unchanged keys, which is only right when the destination keeps its promise."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connector.engines.warehouse import Engine
from connector.kit.destination import RunContext
from connector.kit.events import (
    EVENT_KEY,
    PAYLOAD,
    REJECT_REASON,
    REJECT_TIMED,
    ROUTE,
    SOURCE_KEY,
)
from connector.kit.sql import literals
from connector.run.shaping import shaping
from connector.validation.prepare import prepare


def check_source_key(project: Any) -> str:
    """The promise of :meth:`~connector.kit.destination.Destination.source_key`: every event
    names the key of its rows (``source_key``); shaping the rows of some keys alone
    makes exactly the events the whole shaping made for those keys; a clock 400 days
    later changes only the reject reasons the shaping marks ``reject_timed``."""
    with Engine(project.warehouse, temp_dir=project.spill,
                settings=project.engine_settings) as engine:
        prep = prepare(engine, project.job("job"))
        source = engine.source(prep.sql)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        dest = prep.destination(prep.settings, RunContext("job", now, True, True))
        key = dest.source_key(prep.columns)
        assert key is not None, "source_key() gave None for these columns"

        def shaped(relation: str, at: dt.datetime = now) -> list[dict[str, Any]]:
            d = prep.destination(prep.settings, RunContext("job", at, True, True))
            sql, columns = shaping(engine, d, relation, prep.columns)
            assert SOURCE_KEY in columns, \
                "source_key() is declared, but shape_sql() has no source_key column"
            timed = REJECT_TIMED if REJECT_TIMED in columns else "TRUE"
            return engine.table(
                f"SELECT {EVENT_KEY}, {ROUTE}, {PAYLOAD}, {REJECT_REASON}, {SOURCE_KEY}, "
                f"{timed} AS {REJECT_TIMED} FROM ({sql}) ORDER BY ALL").to_pylist()

        everything = shaped(source)
        keys = sorted(k for (k,) in engine.rows(
            f"SELECT DISTINCT ({key})::VARCHAR FROM {source} AS src") if k is not None)
        strays = {e[SOURCE_KEY] for e in everything} - set(keys) - {None}
        assert not strays, (f"events name source keys that no row has: {sorted(strays)[:3]} "
                            "(source_key() and the shaping's source_key column disagree)")
        some = keys[::2]
        if some:
            engine.rows(f"CREATE OR REPLACE TEMP VIEW conformance_some AS SELECT src.* FROM "
                        f"{source} AS src WHERE ({key})::VARCHAR IN ({literals(some)})")
            alone = shaped("conformance_some")
            chosen = set(some)
            expected = [e for e in everything if e[SOURCE_KEY] in chosen]
            assert alone == expected, (
                "source_key() is declared, but the events of some keys differ when their rows "
                f"are shaped without the others' rows: {_first_difference(alone, expected)}")
        later = {e[EVENT_KEY]: e for e in shaped(source, now + dt.timedelta(days=400))}
        for event in everything:
            _same_later(event, later.get(event[EVENT_KEY]))
    return f"{len(keys)} keys: events per key, from its rows alone, the same 400 days later"


def _same_later(event: dict[str, Any], other: dict[str, Any] | None) -> None:
    """``event`` shaped again 400 days later (``other``) has its route, payload and key,
    and the reject reason it did not mark ``reject_timed``."""
    key = event[EVENT_KEY]
    assert other is not None, f"event {key!r} is not made 400 days later"
    if event[PAYLOAD] is not None and other[PAYLOAD] is not None:
        same = [ROUTE, PAYLOAD, SOURCE_KEY]
        assert [event[c] for c in same] == [other[c] for c in same], (
            f"source_key() is declared, but event {key!r}'s payload or route depends on the "
            "run's clock")
    if event[REJECT_REASON] is not None and event[REJECT_TIMED] is False:
        assert other[REJECT_REASON] == event[REJECT_REASON], (
            f"event {key!r} is rejected with reject_timed FALSE, but 400 days later its "
            f"reason is {other[REJECT_REASON]!r} instead of {event[REJECT_REASON]!r}")


def _first_difference(got: list[Any], expected: list[Any]) -> str:
    for a, b in zip(got + [None], expected + [None], strict=False):
        if a != b:
            return f"{a!r} instead of {b!r}"
    return "none"
