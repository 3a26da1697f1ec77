"""The conformance suite's check of a destination's
:meth:`~connector.kit.destination.Destination.source_key` (see
:func:`connector.testing.check_destination`): incremental runs skip the rows of
unchanged keys, which is only right when the destination keeps its promise."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connector.engines.warehouse import Engine
from connector.kit.destination import RunContext
from connector.run import pipeline


def check_source_key(project: Any) -> str:
    """The promise of :meth:`~connector.kit.destination.Destination.source_key`: every event
    names the key of its rows (``source_key``); shaping the rows of some keys alone
    makes exactly the events the whole shaping made for those keys; a clock 400 days
    later changes only the reject reasons the shaping marks ``reject_timed``."""
    with Engine(project.warehouse, temp_dir=project.spill,
                settings=project.engine_settings) as engine:
        prep = pipeline.prepare(engine, project.job("job"))
        source = engine.source(prep.sql)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        dest = prep.destination(prep.settings, RunContext("job", now, True, True))
        key = dest.source_key(prep.columns)
        assert key is not None, "source_key() gave None for these columns"

        def shaped(relation: str, at: dt.datetime = now) -> list[tuple[Any, ...]]:
            d = prep.destination(prep.settings, RunContext("job", at, True, True))
            sql = d.shape_sql(relation, prep.columns)
            columns = engine.describe(sql)
            assert "source_key" in columns, \
                "source_key() is declared, but shape_sql() has no source_key column"
            timed = "reject_timed" if "reject_timed" in columns else "TRUE"
            return engine.con.sql(
                f"SELECT event_key, route, payload, reject_reason, source_key, {timed} "
                f"FROM ({sql}) ORDER BY ALL").fetchall()

        everything = shaped(source)
        keys = sorted(k for (k,) in engine.con.sql(
            f"SELECT DISTINCT ({key})::VARCHAR FROM {source} AS src").fetchall() if k is not None)
        strays = {e[4] for e in everything} - set(keys) - {None}
        assert not strays, (f"events name source keys that no row has: {sorted(strays)[:3]} "
                            "(source_key() and the shaping's source_key column disagree)")
        some = keys[::2]
        if some:
            listed = ", ".join("'" + k.replace("'", "''") + "'" for k in some)
            engine.con.execute(
                f"CREATE OR REPLACE TEMP VIEW conformance_some AS SELECT src.* FROM {source} "
                f"AS src WHERE ({key})::VARCHAR IN ({listed})").fetchall()
            alone = shaped("conformance_some")
            chosen = set(some)
            expected = [e for e in everything if e[4] in chosen]
            assert alone == expected, (
                "source_key() is declared, but the events of some keys differ when their rows "
                f"are shaped without the others' rows: {_first_difference(alone, expected)}")
        later = {e[0]: e for e in shaped(source, now + dt.timedelta(days=400))}
        for event in everything:
            other = later.get(event[0])
            assert other is not None, f"event {event[0]!r} is not made 400 days later"
            if event[2] is not None and other[2] is not None:
                assert (event[1], event[2], event[4]) == (other[1], other[2], other[4]), (
                    f"source_key() is declared, but event {event[0]!r}'s payload or route "
                    "depends on the run's clock")
            if event[3] is not None and event[5] is False:
                assert other[3] == event[3], (
                    f"event {event[0]!r} is rejected with reject_timed FALSE, but 400 days "
                    f"later its reason is {other[3]!r} instead of {event[3]!r}")
    return f"{len(keys)} keys: events per key, from its rows alone, the same 400 days later"


def _first_difference(got: list[Any], expected: list[Any]) -> str:
    for a, b in zip(got + [None], expected + [None], strict=False):
        if a != b:
            return f"{a!r} instead of {b!r}"
    return "none"
