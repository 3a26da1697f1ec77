"""``offramp runs JOB`` prints what the job's destination says about its plugin tables
(``Destination.describe_state``); a destination whose description fails does not hide
the runs."""

from __future__ import annotations

import pyarrow as pa
from click.testing import CliRunner

from connector import hookimpl
from connector.cli.app import cli
from connector.kit import PluginTable
from connector.run import pipeline
from connector.testing import make_project
from plugins.jsonl import JsonlDestination

NOTES = PluginTable("jsonl_notes", pa.schema([("note", pa.string())]))


class Described(JsonlDestination):
    name = "jsonl_described"
    tables = (NOTES,)

    def after_run(self, summary, tables):
        tables.replace(NOTES, pa.table({"note": [f"{summary.counts.delivered} written"]}),
                       where={})
        return []

    @classmethod
    def describe_state(cls, tables, job):
        return [f"{job}: " + ", ".join(tables.read(NOTES).column("note").to_pylist())]


class Broken(Described):
    name = "jsonl_broken"

    @classmethod
    def describe_state(cls, tables, job):
        raise RuntimeError("no description today")


class Plugin:
    @hookimpl
    def register_destinations(self, register):
        register(Described)
        register(Broken)


def test_runs_prints_the_destinations_description(tmp_path, offramp_plugin) -> None:
    offramp_plugin(Plugin(), "described")
    out = tmp_path / "events.jsonl"
    project = make_project(tmp_path / "p", tables={"t": [{"id": 1}, {"id": 2}]}, jobs={
        "good": ("jsonl_described", {"path": str(out)}, "SELECT id FROM t"),
        "bad": ("jsonl_broken", {"path": str(out)}, "SELECT id FROM t")})
    for job in ("good", "bad"):
        assert pipeline.run(project, job).counts.delivered == 2
    runner = CliRunner(env={"COLUMNS": "250"})
    good = runner.invoke(cli, ["--project", str(project.root), "runs", "good"])
    assert good.exit_code == 0 and "good: 2 written" in good.output
    bad = runner.invoke(cli, ["--project", str(project.root), "runs", "bad"])
    assert bad.exit_code == 0 and "succeeded" in bad.output
    assert "bad: its destination could not describe its state: RuntimeError: no description " \
           "today" in bad.output


class StopsAtTwo(Described):
    """Delivers one event a request and stops the run at the second."""

    name = "jsonl_stops"
    limits = JsonlDestination.limits.__class__(max_events=1, concurrency=1)

    def deliver(self, batch):
        from connector.kit import Fatal

        # Counted by request, not by key: the shaping query does not promise an order.
        self.requests = getattr(self, "requests", 0) + 1
        if self.requests == 2:
            raise Fatal("quota used up")
        return super().deliver(batch)


class StopsPlugin:
    @hookimpl
    def register_destinations(self, register):
        register(StopsAtTwo)


def test_a_run_that_stopped_after_delivering_is_followed_up(tmp_path, offramp_plugin) -> None:
    offramp_plugin(StopsPlugin(), "stops")
    out = tmp_path / "events.jsonl"
    project = make_project(tmp_path / "p", tables={"t": [{"id": 1}, {"id": 2}, {"id": 3}]},
                           jobs={"j": ("jsonl_stops", {"path": str(out)},
                                       "SELECT id FROM t ORDER BY id")})
    result = pipeline.run(project, "j")
    assert result.status == "failed" and result.counts.delivered == 1
    runner = CliRunner(env={"COLUMNS": "250"})
    listing = runner.invoke(cli, ["--project", str(project.root), "runs", "j"])
    assert "j: 1 written" in listing.output  # after_run kept what the run delivered
