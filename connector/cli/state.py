"""``offramp runs`` and ``offramp rejects``: reading a job's state file."""

from __future__ import annotations

import csv
import io
import json

import click

from connector.cli.app import Context, _table, cli, out, pass_ctx
from connector.engines.warehouse import open_state
from connector.kit.errors import ConfigError


@cli.command()
@click.argument("job", required=False)
@click.option("--limit", default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_ctx
def runs(c: Context, job: str | None, limit: int, fmt: str) -> None:
    """Run history of one job, or of every job."""
    project = c.project
    names = [job] if job else [p.stem for p in sorted((project.home / "state").glob("*.duckdb"))]
    cols = ("run_id, job, status, strftime(started_at, '%Y-%m-%d %H:%M:%S') AS started, "
            "round(epoch(finished_at) - epoch(started_at), 1) AS seconds, events, unchanged, "
            "delivered, rejected, failed, error")
    records = []
    for name in names:
        con = open_state(project.state_path(name))
        try:
            records += con.sql(f"SELECT {cols} FROM state.runs ORDER BY run_id DESC "
                               f"LIMIT {int(limit)}").to_arrow_table().to_pylist()
        finally:
            con.close()
    if fmt == "json":
        click.echo(json.dumps(records, indent=2, default=str))
        return
    if not records:
        out.print("no runs yet")
        return
    import pyarrow as pa

    out.print(_table(pa.Table.from_pylist(records), "runs"))


@cli.command()
@click.argument("job")
@click.option("--run", "run_id", type=int, default=None, help="Run id (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output.")
@pass_ctx
def rejects(c: Context, job: str, run_id: int | None, fmt: str, output: str | None) -> None:
    """Events refused in a run, with the reason (never raw PII: keys and reasons only)."""
    project = c.project
    name = project.job(job).name
    con = open_state(project.state_path(name))
    try:
        first, last, found = con.execute(
            "SELECT min(run_id), max(run_id), count(*) FILTER (WHERE run_id = ?) FROM state.runs",
            [run_id or 0]).fetchall()[0]
        if run_id is None:
            run_id = last
        elif not found:
            known = f"runs {first} to {last}" if last is not None else "no runs yet"
            raise ConfigError(f"job {name} has no run {run_id} ({known})")
        data = con.sql(
            "SELECT run_id, event_key, route, stage, reason, recorded_at FROM state.rejects "
            f"WHERE run_id = {int(run_id or 0)} ORDER BY stage, reason, event_key"
        ).to_arrow_table()
    finally:
        con.close()
    records = data.to_pylist()
    if fmt == "table":
        text = None
        if not records:
            out.print(f"run {run_id} of {name} rejected nothing")
        else:
            out.print(_table(data, f"run {run_id} of {name}: {len(records)} rejected"))
    elif fmt == "json":
        text = json.dumps(records, indent=2, default=str) + "\n"
    else:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=data.column_names)
        writer.writeheader()
        writer.writerows(records)
        text = buf.getvalue()
    if text is not None:
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            click.echo(text, nl=False)
