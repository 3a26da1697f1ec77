"""``offramp runs`` and ``offramp rejects``: reading a job's state file."""

from __future__ import annotations

from typing import Any

import click

from connector import registry
from connector.cli.app import Context, cli, pass_ctx
from connector.cli.output import FORMAT, listing, out
from connector.engines.state_file import StateDamaged, StateInUse
from connector.kit.errors import ConfigError, OfframpError
from connector.kit.secrets import redact
from connector.kit.tables import PluginTables
from connector.project import Project
from connector.state import open_state


@cli.command()
@click.argument("job", required=False)
@click.option("--limit", default=20, show_default=True)
@FORMAT
@pass_ctx
def runs(c: Context, job: str | None, limit: int, fmt: str) -> None:
    """Run history of one job, or of every job (a job whose state file another command
    holds is listed as busy, one whose state file is damaged as damaged, with what to
    do)."""
    project = c.project
    names = [project.job(job).name] if job else [path.stem for path in project.job_paths()]
    records: list[dict[str, Any]] = []
    marks: list[tuple[str, str, str]] = []  # (job, status, error) of jobs not listed
    for name in names:
        if not project.state_path(name).exists():
            continue  # the job has not run yet
        try:
            with open_state(project.state_path(name)) as state:
                records += state.run_listing(limit).to_pylist()
        except StateInUse:
            if job:
                raise
            marks.append((name, "busy", "its state file is in use by another offramp "
                                        "command; try again when it ends"))
        except StateDamaged as exc:  # one job's damaged file must not hide the others
            if job:
                raise
            marks.append((name, "damaged", str(exc)))
    keys = list(records[0]) if records else ["run_id", "job", "status", "error"]
    records += [{**dict.fromkeys(keys), "job": name, "status": status, "error": error}
                for name, status, error in marks]
    listing(records, fmt, title="runs", empty="no runs yet")
    if fmt == "table" and records:
        for name in names:
            for line in _described(project, name):
                out.print(line, markup=False, highlight=False)


def _described(project: Project, name: str) -> list[str]:
    """What the job's destination says about its tables in the state file
    (:meth:`~connector.kit.Destination.describe_state`); a failure is one line."""
    try:
        job = project.job(name)
        cls = registry.destination(job.destination)
        if not cls.tables:
            return []
        with open_state(project.state_path(job.name)) as state:
            return list(cls.describe_state(PluginTables(cls.name, cls.tables, state), job.name))
    except OfframpError:
        return []  # a job file gone or a plugin not installed: the runs still list
    except Exception as exc:  # a plugin's bug must not hide the runs
        return [redact(f"{name}: its destination could not describe its state: "
                       f"{type(exc).__name__}: {exc}")]


@cli.command()
@click.argument("job")
@click.option("--run", "run_id", type=int, default=None, help="Run id (default: the latest).")
@FORMAT
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output.")
@pass_ctx
def rejects(c: Context, job: str, run_id: int | None, fmt: str, output: str | None) -> None:
    """Events refused in a run, with the reason (never raw PII: keys and reasons only)."""
    project = c.project
    name = project.job(job).name
    with open_state(project.state_path(name)) as state:
        first, last = state.run_ids()
        if run_id is None:
            run_id = last
        elif not state.has_run(run_id):
            known = f"runs {first} to {last}" if last is not None else "no runs yet"
            raise ConfigError(f"job {name} has no run {run_id} ({known})")
        data = state.rejects(run_id or 0)
    listing(data.to_pylist(), fmt, output=output,
            title=f"run {run_id} of {name}: {data.num_rows} rejected",
            empty=f"run {run_id} of {name} rejected nothing")
