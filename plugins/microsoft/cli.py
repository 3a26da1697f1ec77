"""``offramp report microsoft JOB --from D --to D --goal-id ...``.

Fetches GetOfflineConversionReportByGoalIds for a job's customer and account (its
``[settings]``), in windows of at most 7 days and chunks of goal ids, and prints a
table per goal, or writes CSV or JSON.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import click
import requests

from connector import ProjectHandle
from connector.kit import ConfigError, http
from connector.kit.commands import project as current_project
from connector.kit.secrets import from_env
from plugins.microsoft import report as report_mod
from plugins.microsoft.client import MicrosoftClient
from plugins.microsoft.report_render import print_report
from plugins.microsoft.report_store import store_report
from plugins.microsoft.settings import UPLOAD_CHANNELS, MicrosoftSettings

NAME = "microsoft"
REPORT_TIMEOUT = 60.0


def load_settings(project: ProjectHandle, job: str) -> MicrosoftSettings:
    """The validated settings of a Microsoft job (by name or path to its ``.sql``)."""
    destination = project.destination(job)
    if destination != NAME:
        raise ConfigError(f"job {job} sends to {destination!r}, not {NAME!r}: "
                          f"`offramp report {NAME}` needs a Microsoft Advertising job")
    settings = project.settings(job)
    assert isinstance(settings, MicrosoftSettings)
    return settings


def report_for(settings: MicrosoftSettings, goal_ids: Sequence[str], start: dt.date,
               end: dt.date, *, channels: Sequence[str] = (),
               session: requests.Session | None = None,
               sleep: Callable[[float], None] = time.sleep) -> report_mod.Report:
    """Fetch and merge the report for ``settings``' account (also for ``offramp run``)."""
    own = session is None
    session = session or http.session()
    try:
        client = MicrosoftClient(settings, session,
                                 read_secret=lambda env: from_env(env, "the microsoft report"),
                                 timeout=REPORT_TIMEOUT)
        client.prepare()
        return report_mod.fetch(client, goal_ids, start, end,
                                channels=channels or settings.upload_channels,
                                chunk_size=settings.goal_ids_per_report, sleep=sleep)
    finally:
        if own:
            session.close()


def _date(value: str | None, option: str, default: dt.date | None = None) -> dt.date:
    if value is None:
        if default is None:
            raise click.UsageError(f"{option} is required (YYYY-MM-DD)")
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)",
                                 param_hint=option) from None


@click.command(NAME)
@click.argument("job")
@click.option("--from", "date_from", required=True, help="First upload day (UTC), YYYY-MM-DD.")
@click.option("--to", "date_to", default=None, help="Last upload day, inclusive (default: today).")
@click.option("--goal-id", "goal_ids", multiple=True,
              help="Goal id (repeat, or comma-separated); default: goal_ids in [settings].")
@click.option("--channel", "channels", multiple=True, type=click.Choice(UPLOAD_CHANNELS),
              help="Only uploads through this channel (repeat); default: all.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write CSV or JSON to this file instead of standard output.")
@click.pass_context
def microsoft_report(ctx: click.Context, job: str, date_from: str, date_to: str | None,
                     goal_ids: tuple[str, ...], channels: tuple[str, ...], fmt: str,
                     output: str | None) -> None:
    """Offline-conversion report of a Microsoft Advertising job: per goal and upload day,
    conversions attributed and unattributed (by reason)."""
    start = _date(date_from, "--from")
    end = _date(date_to, "--to", dt.datetime.now(dt.UTC).date())
    if end < start:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    project = current_project(ctx)
    settings = load_settings(project, job)
    ids = [part.strip() for value in goal_ids for part in value.split(",") if part.strip()]
    ids = ids or list(settings.goal_ids)
    if not ids:
        raise click.UsageError("no goal ids: pass --goal-id or set goal_ids in the job's "
                               "[settings]")
    bad = [g for g in ids if not g.isdigit()]
    if bad:
        raise click.BadParameter(f"goal ids are numbers, not {bad[0]!r}", param_hint="--goal-id")
    result = report_for(settings, ids, start, end, channels=channels)
    _keep(project, job, settings, result)
    if fmt == "table":
        print_report(result)
        return
    text = result.to_csv() if fmt == "csv" else result.to_json() + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {fmt.upper()} for {len(result.goals)} goal(s) to {output}", err=True)
    else:
        click.echo(text, nl=False)


def _keep(project: ProjectHandle, job: str, settings: MicrosoftSettings,
          result: report_mod.Report) -> None:
    """Store the report in the job's state file (a running job holds it: then say so)."""
    try:
        with project.tables(job) as tables:
            store_report(result, project.job_name(job), settings, tables)
    except ConfigError as exc:
        click.echo(f"note: the report was not stored: {exc}", err=True)


def add_commands(cli: click.Group) -> None:
    """Add ``report microsoft`` to ``cli``, creating the ``report`` group when absent."""
    group = cli.commands.get("report")
    if group is None:
        group = click.Group("report", help="Fetch what a destination reports about uploads.")
        cli.add_command(group)
    if not isinstance(group, click.Group):
        raise TypeError("`offramp report` exists and is not a command group")
    group.add_command(microsoft_report)
