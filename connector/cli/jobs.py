"""``offramp validate``, ``preview``, ``run`` and ``jobs``."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape

from connector.cli.app import Context, cli, pass_ctx
from connector.cli.output import FORMAT, err, listing, out, print_summary, run_with_progress
from connector.engines.messages import scrub_values
from connector.kit.errors import OfframpError
from connector.kit.secrets import redact
from connector.run import pipeline


@cli.command()
@click.argument("job")
@pass_ctx
def validate(c: Context, job: str) -> None:
    """Check a job's SQL, columns and settings without reading any row."""
    prep = pipeline.validate(c.project, job)
    out.print(f"[green]valid:[/] {prep.job.name} -> {prep.destination.name} "
              f"({len(prep.columns)} columns: {', '.join(prep.columns)})")
    for line in prep.warnings:
        out.print(f"[yellow]warning:[/] {escape(line)}")


@cli.command()
@click.argument("job")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(min=1),
              help="Rows and events to show.")
@pass_ctx
def preview(c: Context, job: str, limit: int) -> None:
    """Show the first rows of a job and the events it would send."""
    rows, events = pipeline.preview(c.project, job, limit)
    listing(rows.to_pylist(), "table", title=f"first {rows.num_rows} rows",
            empty="the query returns no rows")
    for rec in events.to_pylist():
        if rec["reject_reason"]:
            out.print(f"[red]rejected[/] {escape(str(rec['event_key']))}: "
                      f"{escape(rec['reject_reason'])}")
        else:
            route = f" -> {escape(rec['route'])}" if rec["route"] else ""
            out.print(f"[green]event[/] {escape(rec['event_key'])}{route}:")
            click.echo(json.dumps(json.loads(rec["payload"]), indent=2, ensure_ascii=False))


@cli.command()
@click.argument("job")
@click.option("--dry-run", is_flag=True, help="Build every request, send none.")
@click.option("--full", is_flag=True, help="Resend every event, ignoring the ledger.")
@click.option("--profile", is_flag=True, help="Print where the time went, per stage.")
@click.option("--quiet", is_flag=True, help="No progress display.")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb",
              show_default=True, help="Where to shape and deliver (spark: pip install "
              "'offramp[spark]', Parquet warehouses).")
@click.option("--master", default=None, help="Spark master URL (--engine spark), e.g. local[4].")
@click.option("--partitions", type=int, default=None,
              help="Spark delivery partitions (default: as many as run at once, at most the "
              "destination's concurrency).")
@pass_ctx
def run(c: Context, job: str, dry_run: bool, full: bool, profile: bool, quiet: bool,
        engine: str, master: str | None, partitions: int | None) -> None:
    """Run a job: shape, diff against the ledger, deliver, record."""
    if engine == "spark":
        from connector.engines.spark import run as spark_run

        summary = spark_run.run(c.project, job, master=master, partitions=partitions,
                                dry_run=dry_run, full=full, verbose=c.verbose,
                                report=lambda line: err.print(line, markup=False))
    else:
        summary = run_with_progress(c.project, job, dry_run=dry_run, full=full, quiet=quiet)
    print_summary(summary, profile)
    if not summary.ok:
        sys.exit(1)


@cli.command()
@FORMAT
@pass_ctx
def jobs(c: Context, fmt: str) -> None:
    """List saved jobs and whether each validates."""
    project = c.project
    records: list[dict[str, str | None]] = []
    for path in project.job_paths():
        try:
            prep = pipeline.validate(project, str(path))
            records.append({"job": path.stem, "destination": prep.destination.name,
                            "status": "valid"})
        except OfframpError as exc:
            first = str(exc).splitlines()[0].lstrip("- ")
            records.append({"job": path.stem, "destination": None,
                            "status": redact(first)})
        except Exception as exc:  # one broken job (or plugin) never hides the others
            records.append({"job": path.stem, "destination": None, "status": redact(
                f"internal error: {type(exc).__name__}: {scrub_values(str(exc))}")})
    listing(records, fmt, empty=f"no jobs in {escape(str(project.queries))}")
