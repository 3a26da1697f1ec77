"""Checking a job before any row moves (settings, SQL, columns, types), and previewing
the rows and events it makes. :mod:`connector.run.pipeline` runs what this prepares."""

from __future__ import annotations

from dataclasses import dataclass

import pydantic

from connector import registry
from connector.engines.messages import engine_message
from connector.engines.warehouse import Engine
from connector.engines.warehouse import Error as EngineError
from connector.kit.destination import Destination
from connector.kit.errors import ValidationError
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
