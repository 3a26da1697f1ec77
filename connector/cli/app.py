"""The ``offramp`` command line."""

from __future__ import annotations

import datetime as dt
import json
import sys
import traceback
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connector import registry
from connector.kit.errors import OfframpError, ValidationError
from connector.kit.secrets import RedactingFilter, redact
from connector.project import Project
from connector.run import pipeline
from connector.state.store import RunCounts

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class Context:
    def __init__(self, project: str | None, verbose: bool):
        self._project = project
        self.verbose = verbose

    @property
    def project(self) -> Project:
        # --project names the project folder; without it, search up from the cwd.
        return Project(Path(self._project)) if self._project else Project.find()


pass_ctx = click.make_pass_decorator(Context)


class OfframpGroup(click.Group):
    """Turns offramp's errors into one clear line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except pipeline.Interrupted as exc:
            err.print(f"[yellow]interrupted:[/] {escape(redact(str(exc)))}")
            sys.exit(130)
        except ValidationError as exc:
            err.print("[red]invalid:[/]\n" + escape(redact(str(exc))))
            sys.exit(1)
        except OfframpError as exc:
            err.print(f"[red]error:[/] {escape(redact(str(exc)))}")
            sys.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            sys.exit(130)
        except Exception as exc:  # a bug: say so plainly, without leaking secrets
            verbose = ctx.obj.verbose if isinstance(ctx.obj, Context) else False
            if verbose:
                err.print(redact(traceback.format_exc()), markup=False)
            err.print(f"[red]internal error:[/] {type(exc).__name__}: {escape(redact(str(exc)))} "
                      "(run with --verbose for details, and please report it)")
            sys.exit(3)


@click.group(cls=OfframpGroup)
@click.option("--project", "project", type=click.Path(file_okay=False), default=None,
              help="Project folder (default: nearest folder with offramp.toml or queries/).")
@click.option("-v", "--verbose", is_flag=True, help="Show more detail on errors.")
@click.version_option(package_name="offramp")
@click.pass_context
def cli(ctx: click.Context, project: str | None, verbose: bool) -> None:
    """offramp: send warehouse rows to ad platforms as offline conversions."""
    ctx.obj = Context(project, verbose)


@cli.command()
@click.argument("job")
@pass_ctx
def validate(c: Context, job: str) -> None:
    """Check a job's SQL, columns and settings without reading any row."""
    prep = pipeline.validate(c.project, job)
    out.print(f"[green]valid:[/] {prep.job.name} -> {prep.destination.name} "
              f"({len(prep.columns)} columns: {', '.join(prep.columns)})")


@cli.command()
@click.argument("job")
@click.option("--limit", default=10, show_default=True, help="Rows and events to show.")
@pass_ctx
def preview(c: Context, job: str, limit: int) -> None:
    """Show the first rows of a job and the events it would send."""
    rows, events = pipeline.preview(c.project, job, limit)
    out.print(_table(rows, f"first {rows.num_rows} rows"))
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
                                dry_run=dry_run, full=full,
                                report=lambda line: err.print(line, markup=False))
    else:
        summary = run_with_progress(c.project, job, dry_run=dry_run, full=full, quiet=quiet)
    print_summary(summary, profile)
    if not summary.ok:
        sys.exit(1)


def run_with_progress(project: Project, job: str, *, dry_run: bool = False, full: bool = False,
                      quiet: bool = False) -> pipeline.RunSummary:
    """Run a job with a live progress line on stderr."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if quiet:
        return pipeline.run(project, job, dry_run=dry_run, full=full)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task(f"{job}: starting")

        def show(counts: RunCounts) -> None:
            verb = "built" if dry_run else "delivered"
            done = counts.requests if dry_run else counts.delivered
            bar.update(task, description=(
                f"{job}: {counts.rows_read:,} rows read, {counts.events:,} events, "
                f"{done:,} {'requests ' if dry_run else ''}{verb}, {counts.unchanged:,} "
                f"unchanged, {counts.rejected:,} rejected, {counts.failed:,} failed"))

        return pipeline.run(project, job, dry_run=dry_run, full=full, progress=show)


def print_summary(summary: pipeline.RunSummary, profile: bool = False) -> None:
    k = summary.counts
    colour = {"succeeded": "green", "dry_run": "cyan"}.get(summary.status, "red")
    out.print(f"[{colour}]{summary.status}[/]: run {summary.run_id} of {summary.job} -> "
              f"{summary.destination}")
    out.print(f"  rows read {k.rows_read:,} | events {k.events:,} | unchanged {k.unchanged:,} | "
              f"delivered {k.delivered:,} | rejected {k.rejected:,} | failed {k.failed:,}"
              + (f" | requests built {k.requests:,} ({k.bytes:,} bytes)"
                 if summary.status == "dry_run" else f" | requests {k.requests:,}"))
    if k.reasons:
        out.print("  rejected, by reason:")
        for reason, n in list(k.reasons.items())[:10]:
            out.print(f"    {n:>8,}  {escape(reason)}")
        if len(k.reasons) > 10:
            out.print(f"    ... {len(k.reasons) - 10} more reasons: `offramp rejects "
                      f"{summary.job}`")
    if summary.error:
        out.print(f"  [red]{escape(summary.error)}[/]")
    for note in summary.notes:
        out.print(f"  {note}", markup=False)
    if profile and summary.timings:
        out.print("  time by stage (s): " + ", ".join(
            f"{name} {secs:.2f}" for name, secs in summary.timings.items()))
        if "record" in summary.timings:
            out.print("  (send: the reader waiting for the senders; record: the senders' "
                      "ledger writes, summed over their threads, overlapped with the rest)")


@cli.command()
@pass_ctx
def jobs(c: Context) -> None:
    """List saved jobs and whether each validates."""
    project = c.project
    table = Table("job", "destination", "status")
    for path in project.job_paths():
        try:
            prep = pipeline.validate(project, str(path))
            table.add_row(path.stem, prep.destination.name, "[green]valid[/]")
        except OfframpError as exc:
            first = str(exc).splitlines()[0].lstrip("- ")
            table.add_row(path.stem, "?", f"[red]{escape(redact(first))}[/]")
    out.print(table if table.rows else f"no jobs in {escape(str(project.queries))}")


def _table(data, title: str = "") -> Table:  # data: pyarrow.Table
    table = Table(*(escape(name) for name in data.column_names), title=escape(title))
    for rec in data.to_pylist():
        table.add_row(*("" if v is None else escape(str(v)) for v in rec.values()))
    return table


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def main() -> None:
    """Entry point of the ``offramp`` script."""
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    for hook_error in _register_plugin_commands():
        err.print(f"[yellow]warning:[/] {escape(hook_error)}")
    cli(prog_name="offramp")


def _register_plugin_commands() -> list[str]:
    problems = []
    pm = registry.manager()
    for impl in pm.hook.register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:
            problems.append(f"plugin {impl.plugin_name!r} failed to add its commands: "
                            f"{type(exc).__name__}: {exc}")
    return problems


def dump_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, default=str))

