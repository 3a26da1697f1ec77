"""``offramp report google JOB``: check what Google did with the requests a job sent.

Reads the job's ``google_requests`` table, calls ``requestStatus:retrieve`` for each
request that is not final yet (``SENT`` or ``PROCESSING``), again while some are
``PROCESSING`` for up to ``--wait`` seconds, keeps the answers in the table, and prints
the requests and a summary (or JSON).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import click

from connector import ProjectHandle
from connector.kit import ConfigError, http
from connector.kit.commands import echo
from connector.kit.commands import project as current_project
from connector.kit.secrets import from_env
from plugins.google import requests_table
from plugins.google.auth import Tokens
from plugins.google.client import Client
from plugins.google.settings import GoogleSettings
from plugins.google.status import poll

NAME = "google"


def load_settings(project: ProjectHandle, job: str) -> GoogleSettings:
    """The validated settings of a google job (by name or path)."""
    destination = project.destination(job)
    if destination != NAME:
        raise ConfigError(f"job {job} sends to {destination!r}, not {NAME!r}: "
                          f"`offramp report {NAME}` needs a google job")
    settings = project.settings(job)
    assert isinstance(settings, GoogleSettings)
    return settings


def check(project: ProjectHandle, job: str, *, wait: float = 0.0,
          sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]]:
    """Check the job's open requests (then again while PROCESSING, up to ``wait``
    seconds) and keep the answers; returns every request row of the job."""
    settings = load_settings(project, job)
    name = project.job_name(job)
    with project.tables(job) as tables:
        rows = requests_table.read(tables, name)
        if not any(r["status"] in requests_table.OPEN for r in rows):
            return rows
        session = http.session()
        try:
            client = Client(settings, session,
                            Tokens(settings, lambda env: from_env(env, "offramp report google")))
            return poll(rows, lambda rid: client.retrieve(rid, sleep=sleep), wait=wait,
                        sleep=sleep, keep=lambda updated: requests_table.write(tables, updated))
        finally:
            session.close()


def _errors(row: dict[str, Any]) -> str:
    return ", ".join(f"{e['reason']} {e['count']}" for e in row["errors"] or []) or "-"


@click.command(NAME)
@click.argument("job")
@click.option("--wait", type=float, default=0.0, show_default=True,
              help="Seconds to keep checking while requests are PROCESSING.")
@click.option("--limit", type=int, default=20, show_default=True,
              help="Requests listed (the newest).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.pass_context
def google_report(ctx: click.Context, job: str, wait: float, limit: int, fmt: str) -> None:
    """What Google did with a google job's requests: status and errors per request
    (requestStatus:retrieve), kept in the job's state file."""
    if wait < 0:
        raise click.BadParameter("--wait is seconds, 0 or more", param_hint="--wait")
    project = current_project(ctx)
    rows = check(project, job, wait=wait)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        echo(f"job {job} has no accepted Google requests yet (`offramp run {job}` sends them)")
        return
    for row in rows[-limit:]:
        echo(f"{row['request_id']}  run {row['run_id']}  action {row['route']}  "
             f"{row['events']:,} events  {row['status']}  errors: {_errors(row)}")
    for line in requests_table.summary_lines(rows):
        echo(line)


def add_commands(cli: click.Group) -> None:
    """Add ``report google`` to ``cli``, creating the ``report`` group when absent."""
    group = cli.commands.get("report")
    if group is None:
        group = click.Group("report", help="Fetch what a destination reports about uploads.")
        cli.add_command(group)
    if not isinstance(group, click.Group):
        raise TypeError("`offramp report` exists and is not a command group")
    group.add_command(google_report)
