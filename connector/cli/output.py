"""What the command line prints: its consoles, run summaries, tables, and the
progress line of a run."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import click
import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connector.kit.runs import RunCounts, RunSummary
from connector.project import Project
from connector.run import pipeline

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def run_with_progress(project: Project, job: str, *, dry_run: bool = False, full: bool = False,
                      quiet: bool = False) -> RunSummary:
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
                f"unchanged, {counts.rejected:,} rejected, {counts.failed:,} failed"
                + (f"; {counts.line_items:,} line items not sent" if counts.line_items else "")))

        return pipeline.run(project, job, dry_run=dry_run, full=full, progress=show)


def _reasons(reasons: dict[str, int], job: str) -> None:
    for reason, n in list(reasons.items())[:10]:
        out.print(f"    {n:>8,}  {escape(reason)}")
    if len(reasons) > 10:
        out.print(f"    ... {len(reasons) - 10} more reasons: `offramp rejects {job}`")


def print_summary(summary: RunSummary, profile: bool = False) -> None:
    k = summary.counts
    colour = {"succeeded": "green", "dry_run": "cyan"}.get(summary.status, "red")
    out.print(f"[{colour}]{summary.status}[/]: run {summary.run_id} of {summary.job} -> "
              f"{summary.destination}")
    out.print(f"  rows read {k.rows_read:,} | events {k.events:,} | unchanged {k.unchanged:,} | "
              f"delivered {k.delivered:,} | rejected {k.rejected:,} | failed {k.failed:,}"
              + (f" | pending {k.pending:,}" if k.pending and summary.status != "dry_run" else "")
              + (f" | requests built {k.requests:,} ({k.bytes:,} bytes)"
                 if summary.status == "dry_run" else f" | requests {k.requests:,}"))
    if k.line_items:
        out.print(f"  line items not sent {k.line_items:,} (query rows refused on their own: "
                  "not events, in none of the counts above)")
    if k.reasons:
        out.print("  rejected events, by reason:")
        _reasons(k.reasons, summary.job)
    if k.line_item_reasons:
        out.print("  line items not sent, by reason:")
        _reasons(k.line_item_reasons, summary.job)
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


def table(data: pa.Table, title: str = "") -> Table:
    table = Table(*(escape(name) for name in data.column_names), title=escape(title))
    for rec in data.to_pylist():
        table.add_row(*(escape(cell(v)) for v in rec.values()))
    return table


def cell(value: Any) -> str:
    """A value as a table shows it: nothing for NULL, yes/no for a boolean."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


#: ``--format`` of every listing command.
FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]),
                      default="table", show_default=True,
                      help="table (fits the terminal), json or csv.")


def listing(records: list[dict[str, Any]], fmt: str, *, title: str = "", empty: str = "",
            output: str | None = None) -> None:
    """Print ``records`` as ``fmt``: a table that fits the terminal (one record per block
    of ``field: value`` lines when the columns would not fit), JSON or CSV, to standard
    output or to the file ``output``."""
    if fmt == "table" and output is None:
        if not records:
            out.print(empty or "nothing to list")
        elif _table_width(records) <= out.width:
            out.print(table(pa.Table.from_pylist(records), title))
        else:
            vertical(records, title)
        return
    if fmt == "json":
        text = json.dumps(records, indent=2, default=str) + "\n"
    else:
        buf = io.StringIO()
        names = list(records[0]) if records else []
        writer = csv.DictWriter(buf, fieldnames=names)
        writer.writeheader()
        writer.writerows(records)
        text = buf.getvalue()
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)


def vertical(records: list[dict[str, Any]], title: str = "") -> None:
    """Each record as ``field: value`` lines, with a blank line between records: readable
    at any width."""
    if title:
        out.print(escape(title), style="italic")
    width = max((len(name) for rec in records for name in rec), default=0)
    for n, rec in enumerate(records):
        if n:
            out.print()
        for name, value in rec.items():
            out.print(f"{escape(name):>{width}}  {escape(cell(value))}", highlight=False)


def _table_width(records: list[dict[str, Any]]) -> int:
    """The width a rich table of ``records`` needs without wrapping a cell."""
    names = list(records[0])
    widths = [max(len(name), *(len(cell(r.get(name))) for r in records)) for name in names]
    return sum(widths) + 3 * len(widths) + 1


def parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


