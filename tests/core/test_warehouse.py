"""The DuckDB fence: DuckDB and Parquet warehouses, streaming, and the lockdown.

The lockdown tests send statements straight to the engine's connection, past the
SQL checks: even a query that slipped through them could not read a file outside
the warehouse, load an extension, change a setting or write the warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connector.engines.warehouse import (
    Engine,
    Error,
    Warehouse,
    WarehouseWriter,
    connect_state,
    parquet_sources,
    parquet_views,
)
from connector.kit.errors import ConfigError, ValidationError
from connector.validation.query import parse_one_query

JOIN = ("SELECT u.order_id, u.product_id, c.email FROM Unified_Itemized_Transactions u "
        "LEFT JOIN Customer_360 c USING (amperity_id) ORDER BY u.order_id, u.product_id")


def _engine(proj, **kwargs) -> Engine:
    project = proj.project
    return Engine(project.warehouse, temp_dir=project.spill, **kwargs)


@pytest.fixture(params=["duckdb", "parquet"])
def any_project(request: pytest.FixtureRequest):
    """The same data in each kind of warehouse."""
    return request.getfixturevalue("project" if request.param == "duckdb" else "parquet_project")


@pytest.fixture
def engine(any_project) -> Iterator[Engine]:
    with _engine(any_project, state=any_project.project.state_path("job")) as eng:
        yield eng


def test_duckdb_warehouse_schema(project) -> None:
    with _engine(project) as engine:
        schema = engine.schema()
    assert set(schema) == {"Customer_360", "Unified_Itemized_Transactions"}
    items = schema["Unified_Itemized_Transactions"]
    assert items["item_revenue"] == "DECIMAL(12,2)"
    assert items["order_datetime"] == "TIMESTAMP"
    assert items["item_quantity"] == "INTEGER"
    assert schema["Customer_360"]["birthdate"] == "DATE"


def test_parquet_file_and_hive_folder_become_views(parquet_project) -> None:
    views = parquet_views(parquet_project.root / "exports")
    assert set(views) == {"Customer_360", "Unified_Itemized_Transactions"}
    assert "hive_partitioning = true" in views["Unified_Itemized_Transactions"]
    with _engine(parquet_project) as engine:
        schema = engine.schema()
        assert set(schema) == {"Customer_360", "Unified_Itemized_Transactions"}
        # the partition key comes back as a column
        assert "purchase_channel" in schema["Unified_Itemized_Transactions"]
        channels = engine.rows("SELECT purchase_channel, count(*) FROM "
                               "Unified_Itemized_Transactions GROUP BY 1 ORDER BY 1")
    assert channels == [("store", 7), ("web", 3)]


def test_both_warehouses_answer_the_same(project, parquet_project) -> None:
    with _engine(project) as a, _engine(parquet_project) as b:
        assert a.rows(JOIN) == b.rows(JOIN)
        assert len(a.rows(JOIN)) == 10


def test_parquet_sources_skip_hidden_and_temporary_files(tmp_path: Path) -> None:
    data = pa.table({"id": [1, 2]})
    (tmp_path / "t" / "day=1").mkdir(parents=True)
    (tmp_path / "t" / "_temporary").mkdir()
    (tmp_path / "empty").mkdir()
    pq.write_table(data, tmp_path / "t" / "day=1" / "part-0.parquet")
    pq.write_table(data, tmp_path / "t" / "_temporary" / "part-9.parquet")
    pq.write_table(data, tmp_path / "t" / "day=1" / ".part-1.parquet")
    pq.write_table(data, tmp_path / ".hidden.parquet")
    pq.write_table(data, tmp_path / "single.parquet")
    (tmp_path / "notes.txt").write_text("not parquet")
    sources = parquet_sources(tmp_path)
    assert sorted(sources) == ["single", "t"]
    assert [f.name for f in sources["t"]] == ["part-0.parquet"]
    with Engine(Warehouse("parquet", tmp_path)) as engine:
        assert engine.rows("SELECT count(*), max(day) FROM t") == [(2, 1)]
        assert engine.rows("SELECT count(*) FROM single") == [(2,)]


def test_describe_gives_types_without_reading_rows(engine: Engine) -> None:
    types = engine.describe("SELECT order_id, item_revenue / item_quantity AS price "
                            "FROM Unified_Itemized_Transactions WHERE 1 / 0 > 1")
    assert list(types) == ["order_id", "price"]
    assert types["order_id"] == "VARCHAR"


def test_stream_yields_bounded_arrow_batches(engine: Engine) -> None:
    reader = engine.stream("SELECT * FROM range(10000) t(i)", batch_size=2048)
    assert isinstance(reader, pa.RecordBatchReader)
    sizes = [batch.num_rows for batch in reader]
    assert sum(sizes) == 10000
    assert max(sizes) <= 2048
    assert len(sizes) >= 5


def test_missing_warehouses_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist: create it"):
        Engine(Warehouse("duckdb", tmp_path / "nope.duckdb"))
    with pytest.raises(ConfigError, match="Parquet folder .* does not exist"):
        Engine(Warehouse("parquet", tmp_path / "nope"))


def test_corrupt_warehouses_are_config_errors(tmp_path: Path) -> None:
    bad_db = tmp_path / "bad.duckdb"
    bad_db.write_text("this is not a database")
    with pytest.raises(ConfigError, match="could not open the warehouse"):
        Engine(Warehouse("duckdb", bad_db))
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "broken.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(ConfigError, match="could not open the warehouse"):
        Engine(Warehouse("parquet", tmp_path / "exports"))


# -- the lockdown ---------------------------------------------------------------------------

def _refused(engine: Engine, sql: str) -> str:
    with pytest.raises(Error) as info:
        engine.con.execute(sql).fetchall()
    return str(info.value)


def test_cannot_read_files_outside_the_warehouse(engine: Engine, any_project) -> None:
    secret_job = any_project.queries / "other_job.sql"
    secret_job.write_text("/* offramp\ndestination = 'x'\n*/ SELECT 1")
    notes = any_project.root / "notes.csv"  # a file right beside the warehouse
    notes.write_text("a,b\n1,2\n")
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM read_text('{secret_job}')",
        f"SELECT * FROM sniff_csv('{secret_job}')",
        f"SELECT * FROM read_csv('{notes}')",
        f"SELECT * FROM read_blob('{notes}')",
        f"SELECT * FROM glob('{any_project.root}/*')",
        f"SELECT * FROM query('SELECT * FROM read_text(''{secret_job}'')')",
    ):
        message = _refused(engine, sql)
        assert "Permission" in message or "disabled" in message, sql


def test_cannot_load_extensions(engine: Engine, tmp_path: Path) -> None:
    """offramp refuses extensions twice, and each refusal is offramp's own: a plain
    DuckDB connection, offline, runs what offramp refuses (it reads the extension file,
    searches the repository, changes the setting) where an error of its own would
    otherwise pass for offramp's."""
    import duckdb

    # 1. The SQL check refuses INSTALL and LOAD before DuckDB sees them.
    for sql, word in (("INSTALL httpfs", "INSTALL"), ("FORCE INSTALL httpfs FROM 'x'", "INSTALL"),
                      ("LOAD httpfs", "LOAD"), ("LOAD '/tmp/evil.duckdb_extension'", "LOAD")):
        with pytest.raises(ValidationError, match=f"; {word} is not allowed"):
            parse_one_query(sql)
    # 2. Past the check, the engine's lockdown: no file access for extensions, no
    # automatic install or load, and settings locked so that none of it can be undone.
    assert engine.rows(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'),"
        " current_setting('autoinstall_known_extensions'),"
        " current_setting('autoload_known_extensions')") == [(False, True, False, False)]
    extension = engine.spill / "evil.duckdb_extension"  # where the engine may read and write
    extension.write_bytes(b"\0" * 1024)
    repository = tmp_path / "repository"
    repository.mkdir()
    plain = duckdb.connect(config={"extension_directory": str(tmp_path / "extensions")})
    try:
        for sql, refusal, plain_does in (
            (f"LOAD '{extension}'", "Loading external extensions is disabled",
             "The file is not a DuckDB extension"),  # it read the file
            (f"INSTALL httpfs FROM '{repository}'", "disabled by configuration",
             "no access to the file"),  # it looked in the repository
            ("SET autoload_known_extensions = true", "the configuration has been locked", None),
            ("SET autoinstall_known_extensions = true", "the configuration has been locked",
             None),
        ):
            assert refusal in _refused(engine, sql), sql
            try:
                plain.execute(sql).fetchall()
            except duckdb.Error as exc:
                assert plain_does is not None and plain_does in str(exc), (sql, exc)
                assert refusal not in str(exc), (sql, exc)
            else:
                assert plain_does is None, sql  # a plain connection takes the setting
    finally:
        plain.close()
    assert engine.rows("SELECT current_setting('autoload_known_extensions')") == [(False,)]


def test_cannot_change_settings(engine: Engine) -> None:
    for sql in ("SET enable_external_access = true", "SET allowed_directories = ['/']",
                "SET threads = 1", "RESET lock_configuration", "SET memory_limit = '1TB'"):
        assert "lock" in _refused(engine, sql).lower(), sql


def test_cannot_write_the_warehouse(engine: Engine, any_project) -> None:
    target = (any_project.root / "exports" if (any_project.root / "exports").is_dir()
              else any_project.root)
    for sql in ("CREATE TABLE evil AS SELECT 1 AS x",
                "INSERT INTO Customer_360 (amperity_id) VALUES ('evil')",
                "DROP TABLE Customer_360" if any_project.project.warehouse.kind == "duckdb"
                else "CREATE TABLE wh_evil AS SELECT * FROM read_parquet('x')",
                f"COPY (SELECT 1 AS x) TO '{target}/evil.parquet' (FORMAT parquet)",
                f"ATTACH '{target}/evil.duckdb' AS evil"):
        engine.con.execute("SELECT 1").fetchall()
        try:
            engine.con.execute(sql).fetchall()
        except Error:
            continue
        # DuckDB may accept a CREATE into the in-memory catalog of a Parquet warehouse:
        # that writes nothing to disk and vanishes with the connection.
        assert sql.startswith("CREATE TABLE") and any_project.project.warehouse.kind == "parquet"
    assert not (target / "evil.parquet").exists()
    assert not (target / "evil.duckdb").exists()
    assert engine.rows("SELECT count(*) FROM Customer_360") == [(6,)]


def test_the_warehouse_file_is_unchanged_by_a_session(project) -> None:
    path = project.root / "warehouse.duckdb"
    before = path.read_bytes()
    with _engine(project, state=project.project.state_path("job")) as engine:
        engine.rows(JOIN)
        with pytest.raises(Error):
            engine.con.execute("DELETE FROM Customer_360").fetchall()
    assert path.read_bytes() == before


# -- writers and state -----------------------------------------------------------------------

def test_warehouse_writer_replaces_a_window_in_duckdb(tmp_path: Path) -> None:
    wh = Warehouse("duckdb", tmp_path / "wh.duckdb")
    day1 = pa.table({"day": ["d1", "d1"], "n": [1, 2]})
    day2 = pa.table({"day": ["d2"], "n": [3]})
    with WarehouseWriter(wh) as writer:
        assert writer.replace("counts", day1, where={"day": "d1"}) == 2
        writer.replace("counts", day2, where={"day": "d2"})
        writer.replace("counts", pa.table({"day": ["d1"], "n": [9]}), where={"day": "d1"})
    with Engine(wh) as engine:
        assert engine.rows("SELECT day, n FROM counts ORDER BY day, n") == [("d1", 9), ("d2", 3)]


def test_warehouse_writer_replaces_a_window_in_parquet(tmp_path: Path) -> None:
    wh = Warehouse("parquet", tmp_path / "exports")
    with WarehouseWriter(wh) as writer:
        writer.replace("counts", pa.table({"day": ["d1"], "n": [1]}), where={"day": "d1"})
        writer.replace("counts", pa.table({"day": ["d1"], "n": [5]}), where={"day": "d1"})
        writer.replace("counts", pa.table({"day": ["d2"], "n": [2]}), where={"day": "d2"})
    assert sorted(p.name for p in (tmp_path / "exports" / "counts").iterdir()) == [
        "day=d1.parquet", "day=d2.parquet"]
    with Engine(wh) as engine:
        assert engine.rows("SELECT day, n FROM counts ORDER BY day") == [("d1", 5), ("d2", 2)]


def test_warehouse_writer_refuses_odd_names(tmp_path: Path) -> None:
    with WarehouseWriter(Warehouse("duckdb", tmp_path / "wh.duckdb")) as writer, \
            pytest.raises(ConfigError, match="not a plain table or column name"):
        writer.replace('x"; DROP TABLE y; --', pa.table({"a": [1]}), where={})


def test_open_state_needs_a_state_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the job has not run"):
        connect_state(tmp_path / "missing.duckdb")


def test_running_out_of_memory_says_which_setting_to_raise(project) -> None:
    from connector.engines.messages import engine_message

    with _engine(project, settings={"memory_limit": "20MB", "threads": "1"}) as eng:
        with pytest.raises(Error) as info:  # one 80 MB list, in one piece
            eng.rows("SELECT len(list(i)) FROM range(10000000) t(i)")
    message = engine_message(info.value)
    assert message.startswith("DuckDB refused the query: Out of Memory Error")
    assert '[engine] memory_limit = "4GB"' in message and "default is 2GB" in message
