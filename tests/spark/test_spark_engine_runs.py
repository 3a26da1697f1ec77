"""One job on DuckDB and on Spark local[2]: the same events, ledgers and rejects;
re-runs send nothing on either engine; the outcome files of a driver killed before the
merge are merged by the next run, which sends nothing again.

One Spark session for the module (see conftest); each run takes a few seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from connector.cli.app import cli
from connector.engines.spark import run as spark_run
from connector.engines.spark import session as spark_engine
from connector.engines.spark.session import register_warehouse
from connector.engines.spark.sql.transpile import to_spark
from connector.engines.warehouse import Engine, Warehouse
from connector.kit.errors import ConfigError
from connector.project import Project
from connector.run import pipeline
from connector.state import State
from plugins.meta.emulator import MetaEmulator
from tests.spark.spark_support import ENV, JOB, by_order, ledger, make_project, rejects, rows

# One worker runs these, so one JVM starts (pytest --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

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
        first_spark = spark_run.run(spk, JOB, spark=spark, now=NOW, report=lines.append,
                                    verbose=True)
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
    assert a.counts.line_items > 0  # returned lines: counted apart on both engines
    for field in ("rows_read", "events", "delivered", "rejected", "failed", "reasons",
                  "line_items", "line_item_reasons"):
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
    # (string_agg's mappings are covered by test_spark_transpile: Meta's shaping now
    # builds its items as a sorted list)
    for mapped in ("regexp_full_match", "to_json(x)", "isfinite", "epoch(t)", "strftime",
                   "l[i] (i computed)", "NULL AS x"):
        assert any(line.startswith("transpile (meta shaping): mapped " + mapped)
                   for line in lines), mapped
    # Meta declares unique keys: the ledger diff has no duplicate-key window to map.
    assert not any(line.startswith("transpile (ledger diff): mapped agg(x) FILTER (WHERE c) "
                                   "OVER") for line in lines)
    assert any(line.startswith("spark: 0 events in the ledger; delivering in 2 partitions")
               for line in lines)


def test_without_verbose_a_run_reports_its_stages_not_each_mapping(both, spark) -> None:
    lines: list[str] = []
    spark_run.run(both["spark"], JOB, spark=spark, now=NOW, report=lines.append, dry_run=True)
    assert not any(line.startswith("transpile (") for line in lines)
    assert any(line.startswith("spark: transpiled the job's query and the meta shaping to "
                               "Spark SQL (") and line.endswith("; --verbose lists them)")
               for line in lines)
    assert any(line.startswith("spark: meta_offline_events validated") for line in lines)
    assert any("delivering in" in line for line in lines)


def test_a_rerun_on_spark_sends_nothing_after_either_engine(both, spark, emulators, meta_env):
    on_duckdb, on_spark = emulators
    before = (len(on_duckdb.events()), on_duckdb.received_count, on_spark.received_count)
    # after the Spark run, through the CLI (the module's session is reused)
    result = CliRunner().invoke(cli, ["--project", str(both["spark"].root), "run", JOB,
                                      "--engine", "spark", "--master", "local[2]"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output and "delivered 0 " in result.output
    # after the DuckDB run: the payloads, hence the fingerprints, are the same
    remembered = "SELECT count(*) FROM state.sources"
    with Engine(both["duck"].warehouse, state=both["duck"].state_path(JOB)) as engine:
        assert engine.rows(remembered)[0][0] > 0
    again = spark_run.run(both["duck"], JOB, spark=spark, now=NOW)
    # the DuckDB engine's orders to skip are forgotten: it never sees what Spark sends
    with Engine(both["duck"].warehouse, state=both["duck"].state_path(JOB)) as engine:
        assert engine.rows(remembered) == [(0,)]
    assert again.status == "succeeded", again.error
    k = again.counts
    assert (k.delivered, k.requests, k.failed) == (0, 0, 0)
    assert k.unchanged == both["first_duck"].counts.delivered
    assert (len(on_duckdb.events()), on_duckdb.received_count, on_spark.received_count) == before


def test_a_driver_killed_before_the_merge_leaves_files_the_next_run_merges(
        spark, warehouse, tmp_path, monkeypatch, meta_env):
    class DriverKilled(BaseException):
        """Stands for SIGKILL: nothing after it runs in the driver."""

    def killed(*args: Any, **kwargs: Any) -> None:
        raise DriverKilled

    with MetaEmulator() as emu:
        project = Project(make_project(tmp_path, warehouse, emu.url))
        monkeypatch.setattr(State, "merge_outcomes", killed)
        with pytest.raises(DriverKilled):
            spark_run.run(project, JOB, spark=spark, now=NOW)
        monkeypatch.undo()
        delivered = len(emu.events())
        assert delivered > 100 and emu.duplicates == 0
        state = project.state_path(JOB)
        assert ledger(state) == {}
        leftovers = list((project.spark_work / JOB).glob("run-1/outcomes/part-*.arrow"))
        assert len(leftovers) == 2  # committed by the tasks, not merged

        resumed = pipeline.run(project, JOB, now=NOW)  # the other engine merges them
        assert resumed.status == "succeeded"
        assert resumed.counts.delivered == 0 and emu.received_count == delivered
        assert any("merged" in note and "Spark run 1" in note for note in resumed.notes)
        assert ledger(state).keys() == {e["custom_data"]["order_id"] for e in emu.events()}
        assert rows(state, "SELECT run_id, status, delivered FROM state.runs ORDER BY run_id") \
            == [(1, "killed", delivered), (2, "succeeded", 0)]
        assert not (project.spark_work / JOB / "run-1").exists()


def test_a_duckdb_file_warehouse_is_refused_on_spark(spark, tmp_path):
    duck = make_project(tmp_path / "d", tmp_path / "warehouse.duckdb", "http://127.0.0.1:9",
                        duckdb_file=True)
    with pytest.raises(ConfigError, match="reads Parquet exports"):
        spark_run.run(Project(duck), JOB, spark=spark)
    result = CliRunner().invoke(cli, ["--project", str(duck), "run", JOB, "--engine", "spark"])
    assert result.exit_code == 1
    assert "point [warehouse] parquet in offramp.toml" in " ".join(result.output.split())


# -- each mapping, on data: DuckDB's answer and Spark's answer to the same SQL --------------
VALUES = {
    "id": list(range(1, 13)),
    "g": ["a", "a", "a", "b", "b", "b", "c", "c", "c", "c", "d", "d"],
    "s": ["Jane@Example.COM", "  +1 (650) 555-1212 ", "00447700900123", "O'Brien-St. José",
          "abc\n", None, "", "0012300", "2024-03-05", "3/5/2024", "March 5, 2024", 'x"y/é'],
    "d": [1.5, float("inf"), -2.25, float("nan"), None, 0.0, 1e-3, 12.0, 3.125, -0.5, 7.0, 2.5],
    "n": [1, 2, None, 4, 0, 6, 7, 8, 9, 10, 11, -12],
    "ts": [dt.datetime(2024, 3, 5, 12, 30, 15, 500000)] * 11 + [None],
    "day": [dt.date(1990, 1, 31)] * 6 + [None] * 6,
}
SCALARS = [  # (DuckDB expression, how to compare: "json" parses text)
    ("regexp_full_match(s, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')", None),
    ("regexp_full_match(s, 'abc')", None),
    ("regexp_full_match(s, 'jane.*', 'i')", None),
    ("regexp_matches(s, '^\\s*(\\+|00)')", None),
    ("regexp_replace(s, '[^0-9]', '', 'g')", None),
    ("regexp_replace(lower(s), '[\\pP\\pS]', '', 'g')", None),
    ("regexp_replace(s, '(\\d)(\\d)', '\\2\\1$', 'g')", None),
    ("to_json(s)", "json"),
    ("to_json(CASE WHEN isfinite(d) THEN d END)", "json"),
    ("to_json(n)", "json"),
    ("json_object('s', s, 'n', n)", "json"),
    ("isfinite(d)", None),
    ("ltrim(s, '0')", None),
    ("starts_with(s, '00')", None),
    ("position('@' IN s)", None),
    ("epoch(CAST(ts AS TIMESTAMPTZ))", None),
    ("strftime(day, '%Y%m%d')", None),
    ("CAST(try_strptime(s, ['%Y-%m-%d', '%m/%d/%Y', '%B %d, %Y']) AS DATE)", None),
    ("sha256(s)", None),
    ("md5(s)", None),
    ("s IS NOT DISTINCT FROM NULL", None),
    ("n / 4", None),
    ("n // 4", None),
    ("format('{} items', n)", None),
]
AGGREGATES = [
    "string_agg(DISTINCT s, ', ' ORDER BY s)",
    "string_agg(s, ',' ORDER BY n DESC, s) FILTER (WHERE n > 0)",
    "list(n ORDER BY n DESC NULLS FIRST)",
    "count(*) FILTER (WHERE s IS NULL)",
    "count(DISTINCT s)",
    "count(DISTINCT n) FILTER (WHERE n > 5)",
]


def _norm(value: Any, kind: str | None) -> Any:
    if kind == "json" and isinstance(value, str):
        return json.loads(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else round(value, 9)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def test_each_mapping_gives_duckdb_s_answer_on_spark(spark, tmp_path):
    folder = tmp_path / "wh"
    folder.mkdir()
    pq.write_table(pa.table(VALUES), folder / "t.parquet")
    warehouse = Warehouse("parquet", folder)
    register_warehouse(spark, warehouse)
    functions = spark_engine.functions(spark)
    scalar_sql = "SELECT id, " + ", ".join(
        f"{e} AS c{i}" for i, (e, _) in enumerate(SCALARS)) + " FROM t ORDER BY id"
    agg_sql = "SELECT g, " + ", ".join(
        f"{e} AS a{i}" for i, e in enumerate(AGGREGATES)) + " FROM t GROUP BY g ORDER BY g"
    with Engine(warehouse) as duck:
        expected = [duck.rows(scalar_sql), duck.rows(agg_sql)]
    got = [[tuple(r) for r in spark.sql(to_spark(sql, functions=functions).sql).collect()]
           for sql in (scalar_sql, agg_sql)]
    kinds = [None] + [k for _, k in SCALARS]
    for want, have in zip(expected[0], got[0], strict=True):
        for i, (a, b) in enumerate(zip(want, have, strict=True)):
            label = SCALARS[i - 1][0] if i else "id"
            assert _norm(b, kinds[i]) == _norm(a, kinds[i]), (label, want[0], a, b)
    assert [[_norm(v, None) for v in r] for r in got[1]] == \
        [[_norm(v, None) for v in r] for r in expected[1]]
    n = spark.sql(to_spark("SELECT count(DISTINCT r) FROM (SELECT row_number() OVER () AS r "
                           "FROM t)").sql)
    assert n.collect()[0][0] == len(VALUES["id"])  # unique, as row numbers are
