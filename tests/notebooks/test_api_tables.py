"""The Python API: jobs, validate, preview, runs, rejects, ledger, the events handle."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys

import pyarrow as pa
import pytest

import connector
from connector import api
from connector.api import project as api_project
from connector.kit.errors import ConfigError, OfframpError, ValidationError
from plugins.meta.demo import JOB


def no_wait(seconds: float) -> None:
    """Retries never really wait in tests."""


def test_the_module_doctests_pass():
    result = doctest.testmod(api_project, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 15


def test_the_api_is_exported_and_all_stays_sorted():
    assert connector.__all__ == sorted(connector.__all__)
    for name in ("Events", "Plan", "Preview", "ProjectHandle", "installed_destinations",
                 "open_project"):
        assert name in connector.__all__ and getattr(connector, name) is getattr(api, name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        connector.nope  # noqa: B018


def test_importing_connector_does_not_load_duckdb_until_the_api_is_used():
    code = ("import sys, connector; before = 'duckdb' in sys.modules; connector.open_project; "
            "print(before, 'duckdb' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True"]


def test_jobs_validate_and_preview(meta_project):
    assert meta_project.jobs() == [JOB]
    assert "meta" in connector.installed_destinations()
    prepared = meta_project.validate(JOB)
    assert prepared.destination.name == "meta" and "email" in prepared.columns
    preview = meta_project.preview(JOB, limit=4)
    rows, events = preview  # a named tuple: unpacks like pipeline.preview's result
    assert rows.num_rows == 4 and events.num_rows == 4
    assert events.column_names == ["event_key", "route", "reject_reason", "payload"]
    assert preview.rows is rows and not meta_project.project.state_path(JOB).exists()


def test_a_broken_job_is_a_validation_error(meta_project):
    path = meta_project.root / "queries" / "broken.sql"
    path.write_text('/* offramp\ndestination = "meta"\n[settings]\ndataset_id = "12345"\n*/\n'
                    "SELECT amperity_id AS external_id FROM Customer_360\n")
    with pytest.raises(ValidationError, match="order_id"):
        meta_project.validate("broken")
    with pytest.raises(ValidationError):
        meta_project.plan("broken")
    with pytest.raises(ConfigError, match="no job named 'nope'"):
        meta_project.events("nope")


def test_runs_rejects_and_ledger_are_arrow_tables(meta_project, emulator):
    with pytest.raises(ConfigError, match="has not run"):
        meta_project.runs(JOB)
    first = meta_project.run(JOB, sleep=no_wait)
    emulator.poison(_one_order(meta_project))
    second = meta_project.run(JOB, full=True, sleep=no_wait)
    runs = meta_project.runs(JOB)
    assert isinstance(runs, pa.Table)
    assert runs.column("run_id").to_pylist() == [second.run_id, first.run_id]  # newest first
    assert runs.column("delivered").to_pylist() == [second.counts.delivered,
                                                    first.counts.delivered]
    latest = meta_project.rejects(JOB)
    assert set(latest.column("run_id").to_pylist()) == {second.run_id}
    assert latest.filter(pa.compute.equal(latest.column("stage"), "destination")).num_rows == 1
    # the rejects list every row refused: rejected events and line items refused alone
    assert meta_project.rejects(JOB, run=first.run_id).num_rows == \
        first.counts.rejected + first.counts.line_items
    ledger = meta_project.ledger(JOB)
    statuses = ledger.column("status").to_pylist()
    assert statuses.count("rejected") == 1
    assert statuses.count("delivered") == first.counts.delivered - 1
    assert ledger.column_names == ["event_key", "fingerprint", "status"]


def _one_order(project) -> str:
    with project.events(JOB) as events:
        table = events.sql("SELECT payload ->> '$.custom_data.order_id' AS order_id FROM events "
                           "WHERE status = 'unchanged' AND reject_reason IS NULL "
                           "ORDER BY event_key LIMIT 1")
    return table.column("order_id")[0].as_py()


def test_events_are_queried_in_duckdb_with_json_functions(meta_project, emulator):
    with meta_project.events(JOB) as events:
        assert events.job == JOB and events.destination == "meta" and "meta" in repr(events)
        table = events.sql("SELECT status, count(*) AS n FROM events GROUP BY ALL")
        counts = dict(zip(*table.to_pydict().values(), strict=True))
        plan = events.plan()
        assert counts == {"new": plan.new, "rejected": plan.rejected,
                          "line_item": plan.line_items}
        assert plan.line_items > 0 and plan.events == plan.new + plan.rejected
        value = events.sql(
            "SELECT sum((payload ->> '$.custom_data.value')::DOUBLE) AS v FROM events "
            "WHERE status = ? AND payload ->> '$.event_name' = ?", ["new", "Purchase"])
        assert value.column("v")[0].as_py() > 0
        reader = events.stream("SELECT event_key, payload FROM events", batch_size=100)
        sizes = [batch.num_rows for batch in reader]
        assert max(sizes) <= 100 and sum(sizes) == plan.events + plan.line_items
        assert events.sql("CREATE TEMP VIEW sent AS SELECT * FROM events "
                          "WHERE status = 'new'").num_rows in (0, 1)
        assert events.sql("SELECT count(*) AS n FROM sent").column("n")[0].as_py() == plan.new
        assert events.sql("SELECT count(*) AS n FROM Customer_360").column("n")[0].as_py() > 0
        with pytest.raises(OfframpError, match="DuckDB refused the query"):
            events.sql("SELECT no_such_column FROM events")


def test_an_open_events_handle_does_not_block_a_run(meta_project, emulator):
    events = meta_project.events(JOB)
    try:
        summary = meta_project.run(JOB, now=events.now, sleep=no_wait)
        assert summary.status == "succeeded" and summary.counts.delivered > 0
        # The handle keeps the snapshot it opened with.
        n = events.sql("SELECT count(*) AS n FROM events WHERE status = 'new'")
        assert n.column("n")[0].as_py() == summary.counts.delivered
    finally:
        events.close()
    with meta_project.events(JOB) as after:
        assert after.plan().new == 0


def test_the_jsonl_events_payloads_are_the_rows(jsonl_project):
    with jsonl_project.events("people") as events:
        rows = events.sql("SELECT event_key, status, reject_reason, payload FROM events "
                          "ORDER BY event_key NULLS LAST").to_pylist()
    assert [json.loads(r["payload"]) if r["payload"] else None for r in rows] == [
        {"id": 1, "city": "Oslo"}, {"id": 2, "city": "Lima"}, None]
    assert rows[2]["status"] == "rejected" and rows[2]["reject_reason"] == "id is missing"


def test_plugin_tables_in_the_state_file_are_readable(jsonl_project):
    from connector.state.store import State
    from connector.engines.warehouse import Engine

    jsonl_project.run("people")
    project = jsonl_project.project
    with Engine(project.warehouse, state=project.state_path("people")) as engine:
        State(engine.cursor()).replace("delivery_report", pa.table({"day": ["d1"], "ok": [2]}),
                                       where={"day": "d1"})
    assert jsonl_project.table("people", "delivery_report").to_pylist() == [{"day": "d1",
                                                                             "ok": 2}]
    with pytest.raises(ConfigError, match=r"no table 'nope' \(plugin tables: delivery_report"):
        jsonl_project.table("people", "nope")
    with pytest.raises(ConfigError, match="use runs"):
        jsonl_project.table("people", "ledger")
    with pytest.raises(ConfigError, match="not a plugin table"):
        jsonl_project.table("people", 'x"; DROP TABLE runs; --')


def test_a_warehouse_table_named_events_still_works(tmp_path):
    from connector.engines.warehouse import Warehouse, WarehouseWriter

    with WarehouseWriter(Warehouse("duckdb", tmp_path / "warehouse.duckdb")) as writer:
        writer.replace("events", pa.table({"id": [7], "kind": ["click"]}), where={})
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "clicks.sql").write_text(
        f'/* offramp\ndestination = "jsonl"\n[settings]\npath = "{tmp_path / "o.jsonl"}"\n*/\n'
        "SELECT id, kind FROM events")
    project = connector.open_project(tmp_path)
    with project.events("clicks") as events:
        shaped = events.sql("SELECT status, payload ->> '$.kind' AS kind FROM events")
        assert shaped.to_pylist() == [{"status": "new", "kind": "click"}]
        assert events.sql("SELECT kind FROM wh.events").to_pylist() == [{"kind": "click"}]
