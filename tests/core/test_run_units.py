"""Run summaries count events and line items apart: a destination that refuses query
rows one by one (returned lines, rows without an order id) names those reasons in
``line_item_reasons``, and such rows are counted as ``line_items``, in none of the event
counts, on every surface (the summary, the runs table, ``offramp runs``)."""

from __future__ import annotations

import duckdb
from click.testing import CliRunner

from connector import hookimpl
from connector.cli.app import cli
from connector.kit import RunCounts
from connector.run import pipeline
from connector.testing import make_project
from plugins.jsonl import JsonlDestination

MISSING = "id is missing"


class Lines(JsonlDestination):
    """jsonl, whose rows without an id stand for line items refused on their own."""

    name = "jsonl_lines"
    line_item_reasons = (MISSING,)


class Plugin:
    @hookimpl
    def register_destinations(self, register):
        register(Lines)


def test_by_unit_moves_line_item_rejects_out_of_the_event_counts() -> None:
    raw = RunCounts(rows_read=9, events=8, delivered=4, rejected=4, pending=0)
    shown = raw.by_unit({"bad price": 1, "returned": 2, "no order": 1},
                        ("returned", "no order", "never seen"))
    assert (shown.events, shown.rejected, shown.line_items) == (5, 1, 3)
    assert shown.reasons == {"bad price": 1}
    assert shown.line_item_reasons == {"returned": 2, "no order": 1}
    assert shown.events == shown.unchanged + shown.delivered + shown.rejected + \
        shown.failed + shown.pending
    assert (raw.events, raw.rejected, raw.line_items) == (8, 4, 0)  # a copy, not changed
    assert raw.by_unit({"bad price": 1}, ()).line_items == 0


def project_with_lines(tmp_path, offramp_plugin):
    offramp_plugin(Plugin(), "lines")
    rows = [{"id": 1}, {"id": None}, {"id": 2}, {"id": None}, {"id": 3}]
    return make_project(tmp_path / "p", tables={"t": rows}, jobs={
        "j": ("jsonl_lines", {"path": str(tmp_path / "out.jsonl")}, "SELECT id FROM t")})


def test_the_summary_and_the_runs_table_count_line_items_apart(tmp_path,
                                                               offramp_plugin) -> None:
    project = project_with_lines(tmp_path, offramp_plugin)
    counts = pipeline.run(project, "j").counts
    assert (counts.events, counts.delivered, counts.rejected) == (3, 3, 0)
    assert (counts.line_items, counts.line_item_reasons, counts.reasons) == (
        2, {MISSING: 2}, {})
    again = pipeline.run(project, "j").counts  # unchanged events; the rows refused again
    assert (again.events, again.unchanged, again.line_items) == (3, 3, 2)
    con = duckdb.connect(str(project.state_path("j")), read_only=True)
    try:
        stored = con.execute("SELECT events, rejected, line_items FROM runs "
                             "ORDER BY run_id").fetchall()
    finally:
        con.close()
    assert stored == [(3, 0, 2), (3, 0, 2)]
    out = CliRunner(env={"COLUMNS": "250"}).invoke(
        cli, ["--project", str(project.root), "runs", "j", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert '"line_items": 2' in out.output


def test_the_progress_line_counts_line_items_apart(tmp_path, offramp_plugin) -> None:
    project = project_with_lines(tmp_path, offramp_plugin)
    seen: list[RunCounts] = []
    pipeline.run(project, "j", progress=seen.append)
    assert seen and seen[-1].line_items == 2 and seen[-1].rejected == 0


def test_a_state_file_from_before_line_items_still_lists(tmp_path, offramp_plugin) -> None:
    project = project_with_lines(tmp_path, offramp_plugin)
    pipeline.run(project, "j")
    con = duckdb.connect(str(project.state_path("j")))
    try:
        con.execute("ALTER TABLE runs DROP COLUMN line_items")
    finally:
        con.close()
    runner = CliRunner(env={"COLUMNS": "250"})
    out = runner.invoke(cli, ["--project", str(project.root), "runs", "j", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert '"line_items": null' in out.output
    assert pipeline.run(project, "j").counts.line_items == 2  # the run adds the column
    out = runner.invoke(cli, ["--project", str(project.root), "runs", "j", "--format", "json"])
    assert '"line_items": 2' in out.output


def test_the_python_api_plan_counts_line_items_apart(tmp_path, offramp_plugin) -> None:
    from connector import open_project

    project = project_with_lines(tmp_path, offramp_plugin)
    plan = open_project(project.root).plan("j")
    assert (plan.events, plan.rejected, plan.line_items) == (3, 0, 2)
    assert plan.line_item_reasons == {MISSING: 2} and plan.reasons == {}
    assert repr(plan).endswith("0 rejected; 2 line items not sent)")
