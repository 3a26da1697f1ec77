"""Checking a job before any row moves (settings, SQL, columns, types), and previewing
the rows and events it makes. :mod:`connector.run.pipeline` runs what this prepares."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pydantic

from connector import registry
from connector.engines.messages import engine_message
from connector.engines.warehouse import Engine
from connector.engines.warehouse import Error as EngineError
from connector.kit.destination import Destination, RunContext
from connector.kit.errors import OfframpError, ValidationError
from connector.project import Job, Project
from connector.validation.query import check_contract, check_query


@dataclass
class Prepared:
    """A job checked against its warehouse and destination, ready to run."""

    job: Job
    destination: type[Destination]
    settings: pydantic.BaseModel
    columns: dict[str, str]
    sql: str


def load_destination(job: Job) -> tuple[type[Destination], pydantic.BaseModel]:
    """The job's destination class and its validated settings."""
    cls = registry.destination(job.destination)
    try:
        settings = cls.Settings.model_validate(job.settings)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            problems.append(f"setting `{where}` in {job.path.name}: {err['msg']}")
        raise ValidationError(problems) from None
    return cls, settings


def prepare(engine: Engine, job: Job) -> Prepared:
    """Check the job before any row is read: settings, SQL, columns, types."""
    cls, settings = load_destination(job)
    checked = check_query(job.sql, engine.schema())
    try:
        columns = engine.describe(checked.sql)
    except EngineError as exc:
        raise ValidationError([engine_message(exc)]) from None
    problems = check_contract(columns, cls.contract, cls.name)
    if problems:
        raise ValidationError(problems)
    return Prepared(job, cls, settings, columns, checked.sql)


def validate(project: Project, ref: str) -> Prepared:
    """``offramp validate``: raises :class:`ValidationError` listing every problem."""
    job = project.job(ref)
    with Engine(project.warehouse, temp_dir=project.spill,
                settings=project.engine_settings) as engine:
        return prepare(engine, job)


def preview(project: Project, ref: str, limit: int = 10,
            now: dt.datetime | None = None) -> tuple[pa.Table, pa.Table]:
    """The first ``limit`` rows of the query, and the first ``limit`` events it makes
    (with rejects and reasons). Reads state, never writes it."""
    job = project.job(ref)
    with Engine(project.warehouse, temp_dir=project.spill,
                settings=project.engine_settings) as engine:
        prep = prepare(engine, job)
        context = RunContext(job.name, now or dt.datetime.now(dt.UTC), True, True,
                             root=project.root)
        dest = prep.destination(prep.settings, context)
        limit = max(0, int(limit))
        try:
            rows = engine.con.sql(f"SELECT * FROM ({prep.sql}) LIMIT {limit}").to_arrow_table()
            shape = dest.shape_sql(engine.source(prep.sql), prep.columns)
            events = engine.con.sql(
                f"SELECT event_key, route, reject_reason, payload FROM ({shape}) "
                f"ORDER BY reject_reason NULLS FIRST, event_key LIMIT {limit}").to_arrow_table()
        except EngineError as exc:  # the query fails on the data (a bad CAST, say)
            raise OfframpError(engine_message(exc)) from None
        return rows, events
