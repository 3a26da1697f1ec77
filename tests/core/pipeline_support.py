"""What the pipeline's end-to-end tests share: a job on the sink emulator, a run with a
recording ``sleep``, and the state file's ledger and runs."""

from __future__ import annotations

from typing import Any

from connector.run import pipeline as pl

from ..conftest import NOW  # noqa: TID252 - shared test data

CUSTOMERS = "SELECT amperity_id AS id, email, country FROM Customer_360"
KEYS = {"a1", "a2", "a3", "a4", "a5", "a6"}


def sink_job(project, sink, name: str = "sync", sql: str = CUSTOMERS, **settings: Any) -> str:
    project.write_job(name, sql, "sink", url=sink.url, **settings)
    return name


def run(project, job: str, sleeps=None, **kwargs: Any) -> pl.RunSummary:
    return pl.run(project.project, job, now=NOW, sleep=sleeps or (lambda s: None), **kwargs)


def ledger(project, job: str = "sync") -> dict[str, str]:
    """event key -> latest status."""
    rows = project.state_rows(job, "SELECT event_key, arg_max(status, seq) FROM state.ledger "
                                   "GROUP BY 1")
    return dict(rows)


def runs(project, job: str = "sync") -> list[tuple[Any, ...]]:
    return project.state_rows(job, "SELECT run_id, status, delivered, rejected, failed, error "
                                   "FROM state.runs ORDER BY run_id")
