"""Checking a job before any row moves (settings, SQL, columns, types), and previewing
the rows and events it makes. :mod:`connector.run.pipeline` runs what this prepares."""

from __future__ import annotations

from dataclasses import dataclass, field

import pydantic

from connector import registry
from connector.engines.messages import engine_message
from connector.engines.warehouse import Engine
from connector.engines.warehouse import Error as EngineError
from connector.kit.destination import Destination
from connector.kit.errors import ValidationError
from connector.project import Job, Project
from connector.validation.contract import check_contract
from connector.validation.query import check_query
from connector.validation.settings import settings_problems


@dataclass
class Prepared:
    """A job checked against its warehouse and destination, ready to run."""

    job: Job
    destination: type[Destination]
    settings: pydantic.BaseModel
    columns: dict[str, str]
    sql: str
    #: the destination's cautions about these settings (:meth:`Destination.warnings`).
    warnings: list[str] = field(default_factory=list)


def load_destination(job: Job) -> tuple[type[Destination], pydantic.BaseModel]:
    """The job's destination class and its validated settings; a
    :class:`ValidationError` names each setting at fault and what to write instead."""
    cls = registry.destination(job.destination)
    try:
        return cls, cls.Settings.model_validate(job.settings)
    except pydantic.ValidationError as exc:
        raise ValidationError(settings_problems(exc, cls.Settings, f"the {cls.name} destination",
                                                job.path.name)) from None


def prepare(engine: Engine, job: Job) -> Prepared:
    """Check the job before any row is read: settings, SQL, columns, types. Every problem
    of every stage is listed in one :class:`ValidationError` (a stage that cannot run
    without an earlier one, such as the columns without SQL that parses, is skipped)."""
    problems: list[str] = []
    cls = registry.destination(job.destination)
    settings = None
    try:
        settings = cls.Settings.model_validate(job.settings)
    except pydantic.ValidationError as exc:
        problems += settings_problems(exc, cls.Settings, f"the {cls.name} destination",
                                     job.path.name)
    checked = columns = None
    try:
        checked = check_query(job.sql, engine.schema(), job.sql_line)
        columns = engine.describe(checked.sql)
    except ValidationError as exc:
        problems += exc.problems
    except EngineError as exc:
        problems.append(engine_message(exc))
    if columns is not None:
        problems += check_contract(columns, cls.contract, cls.name)
    if problems or settings is None or checked is None or columns is None:
        raise ValidationError(problems)
    return Prepared(job, cls, settings, columns, checked.sql, list(cls.warnings(settings)))


def validate(project: Project, ref: str) -> Prepared:
    """``offramp validate``: raises :class:`ValidationError` listing every problem."""
    job = project.job(ref)
    with Engine(project.warehouse, temp_dir=project.spill,
                settings=project.engine_settings) as engine:
        return prepare(engine, job)
