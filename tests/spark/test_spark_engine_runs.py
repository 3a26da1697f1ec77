"""One job on DuckDB and on Spark local[2]: the same events, ledgers and rejects;
re-runs send nothing on either engine; a driver killed before the merge is resumed
without loss, Meta's deduplication absorbing what it had delivered.

One Spark session for the module (see conftest); each run takes a few seconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from click.testing import CliRunner

from connector import pipeline, spark_run
from connector.cli import cli
from connector.errors import ConfigError
from connector.project import Project
from plugins.meta.emulator import MetaEmulator
from tests.spark.spark_support import ENV, JOB, by_order, ledger, make_project, rejects, rows

pytestmark = pytest.mark.slow

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def emulators() -> Any:
    with MetaEmulator() as on_duckdb, MetaEmulator() as on_spark:
        yield on_duckdb, on_spark


@pytest.fixture(scope="module")
def both(spark, warehouse, emulators, tmp_path_factory) -> dict[str, Any]:
    """The job run once on DuckDB and once on Spark, each into its own emulator."""
    on_duckdb, on_spark = emulators
    duck = Project(make_project(tmp_path_factory.mktemp("duck"), warehouse, on_duckdb.url))
    spk = Project(make_project(tmp_path_factory.mktemp("spark"), warehouse, on_spark.url))
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        first_duck = pipeline.run(duck, JOB, now=NOW)
        first_spark = spark_run.run(spk, JOB, spark=spark, now=NOW, report=lines.append)
    return {"duck": duck, "spark": spk, "first_duck": first_duck, "first_spark": first_spark,
            "lines": lines}


def test_both_engines_deliver_the_same_events(both, emulators):
    on_duckdb, on_spark = emulators
    a, b = both["first_duck"], both["first_spark"]
    assert a.status == b.status == "succeeded", (a.error, b.error)
    assert a.counts.delivered > 100
    sent_duck, sent_spark = by_order(on_duckdb.events()), by_order(on_spark.events())
    assert sent_spark.keys() == sent_duck.keys()
    assert [k for k in sent_duck if sent_duck[k] != sent_spark[k]] == []
    assert on_spark.duplicates == 0 and on_spark.received_count == len(sent_spark)
    for field in ("rows_read", "events", "delivered", "rejected", "failed", "reasons"):
        assert getattr(b.counts, field) == getattr(a.counts, field), field


def test_ledgers_and_rejects_agree(both):
    duck_state = both["duck"].state_path(JOB)
    spark_state = both["spark"].state_path(JOB)
    duck, spk = ledger(duck_state), ledger(spark_state)
    assert len(duck) == both["first_duck"].counts.delivered
    # keys, statuses and fingerprints: the payload text is byte-identical on both engines
    assert spk == duck
    assert rejects(spark_state, both["first_spark"].run_id) == \
        rejects(duck_state, both["first_duck"].run_id)
    assert {stage for _, stage, _ in rejects(spark_state, 1)} == {"shape"}


def test_the_transpile_step_reports_each_mapping(both):
    lines = both["lines"]
    assert any(line.startswith("transpile (the job's query): mapped a / b") for line in lines)
    for mapped in ("regexp_full_match", "to_json(x)", "isfinite", "epoch(t)",
                   "string_agg(x, sep ORDER BY k)", "string_agg(DISTINCT", "row_number()",
                   "NULL AS x"):
        assert any(line.startswith("transpile (meta shaping): mapped " + mapped)
                   for line in lines), mapped
    assert any(line.startswith("transpile (ledger diff): mapped agg(x) FILTER (WHERE c) OVER")
               for line in lines)
    assert any(line.startswith("spark: 0 events in the ledger; delivering in 2 partitions")
               for line in lines)


def test_a_rerun_on_spark_sends_nothing_after_either_engine(both, spark, emulators, meta_env):
    on_duckdb, on_spark = emulators
    before = (len(on_duckdb.events()), on_duckdb.received_count, on_spark.received_count)
    # after the Spark run, through the CLI (the module's session is reused)
    result = CliRunner().invoke(cli, ["--project", str(both["spark"].root), "run", JOB,
                                      "--engine", "spark", "--master", "local[2]"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output and "delivered 0 " in result.output
    # after the DuckDB run: the payloads, hence the fingerprints, are the same
    again = spark_run.run(both["duck"], JOB, spark=spark, now=NOW)
    assert again.status == "succeeded", again.error
    k = again.counts
    assert (k.delivered, k.requests, k.failed) == (0, 0, 0)
    assert k.unchanged == both["first_duck"].counts.delivered
    assert (len(on_duckdb.events()), on_duckdb.received_count, on_spark.received_count) == before


def test_a_driver_killed_before_the_merge_leaves_no_ledger_rows_and_resumes(
        spark, warehouse, tmp_path, monkeypatch, meta_env):
    class DriverKilled(BaseException):
        """Stands for SIGKILL: nothing after it runs in the driver."""

    def killed(*args: Any, **kwargs: Any) -> None:
        raise DriverKilled

    with MetaEmulator() as emu:
        project = Project(make_project(tmp_path, warehouse, emu.url))
        monkeypatch.setattr(spark_run, "merge", killed)
        with pytest.raises(DriverKilled):
            spark_run.run(project, JOB, spark=spark, now=NOW)
        monkeypatch.undo()
        delivered = len(emu.events())
        assert delivered > 100 and emu.duplicates == 0
        state = project.state_path(JOB)
        assert ledger(state) == {}
        leftovers = list((project.home / "spark" / JOB).glob("run-1/outcomes/part-*.parquet"))
        assert len(leftovers) == 2  # committed by the tasks, never merged

        resumed = pipeline.run(project, JOB, now=NOW)  # the other engine resumes
        assert resumed.status == "succeeded"
        assert resumed.counts.delivered == delivered
        assert emu.duplicates == delivered  # Meta drops the resent events as duplicates
        assert len(emu.events()) == delivered
        assert ledger(state).keys() == {e["custom_data"]["order_id"] for e in emu.events()}
        assert rows(state, "SELECT run_id, status FROM state.runs ORDER BY run_id") == [
            (1, "killed"), (2, "succeeded")]


def test_a_duckdb_file_warehouse_is_refused_on_spark(spark, tmp_path):
    duck = make_project(tmp_path / "d", tmp_path / "warehouse.duckdb", "http://127.0.0.1:9",
                        duckdb_file=True)
    with pytest.raises(ConfigError, match="reads Parquet exports"):
        spark_run.run(Project(duck), JOB, spark=spark)
    result = CliRunner().invoke(cli, ["--project", str(duck), "run", JOB, "--engine", "spark"])
    assert result.exit_code == 1
    assert "point [warehouse] parquet in offramp.toml" in " ".join(result.output.split())
