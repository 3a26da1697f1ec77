"""``offramp preview``: the first rows of a job's query and the first events they make,
rejects and reasons included. Reads the warehouse, writes nothing."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from connector.engines.messages import engine_message
from connector.engines.warehouse import Engine
from connector.engines.warehouse import Error as EngineError
from connector.kit.destination import RunContext
from connector.kit.errors import ConfigError, OfframpError
from connector.project import Project
from connector.run.shaping import shaping
from connector.validation.prepare import prepare


def preview(project: Project, ref: str, limit: int = 10,
            now: dt.datetime | None = None) -> tuple[pa.Table, pa.Table]:
    """The first ``limit`` rows of the query, and the first ``limit`` events it makes
    (with rejects and reasons)."""
    if int(limit) < 1:
        raise ConfigError(f"a preview shows at least 1 row, not {limit}: pass limit=1 or more")
    job = project.job(ref)
    with Engine(project.warehouse, temp_dir=project.spill,
                settings=project.engine_settings) as engine:
        prep = prepare(engine, job)
        context = RunContext(job.name, now or dt.datetime.now(dt.UTC), True, True,
                             root=project.root)
        dest = prep.destination(prep.settings, context)
        limit = int(limit)
        try:
            rows = engine.table(f"SELECT * FROM ({prep.sql}) LIMIT {limit}")
            shape, _ = shaping(engine, dest, engine.source(prep.sql), prep.columns)
            events = engine.table(
                f"SELECT event_key, route, reject_reason, payload FROM ({shape}) "
                f"ORDER BY reject_reason NULLS FIRST, event_key LIMIT {limit}")
        except EngineError as exc:  # the query fails on the data (a bad CAST, say)
            raise OfframpError(engine_message(exc, scrub=True)) from None
        return rows, events
