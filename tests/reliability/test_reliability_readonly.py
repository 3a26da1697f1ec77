"""Saved queries are read-only. Two fences, each tested on its own: the SQL check
refuses anything but one read-only query over the warehouse's tables, before a row
is read; and DuckDB itself runs the query with the warehouse attached read-only,
file access outside the warehouse off, extension loading off and the configuration
locked (tested by sending statements straight to the locked engine)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from reliability_kit import GatedMeta, Shop, cli

from connector.engines.warehouse import Engine

REFUSED = {
    "INSERT INTO orders SELECT * FROM orders": "INSERT is not allowed",
    "UPDATE orders SET price = 0": "UPDATE is not allowed",
    "DELETE FROM state.ledger": "DELETE is not allowed",
    "CREATE TABLE copy AS SELECT * FROM orders": "CREATE is not allowed",
    "COPY orders TO 'orders.csv'": "COPY is not allowed",
    "ATTACH 'other.duckdb' AS other": "ATTACH is not allowed",
    "DETACH state": "DETACH is not allowed",
    "INSTALL httpfs": "INSTALL is not allowed",
    "LOAD httpfs": "LOAD is not allowed",
    "SET enable_external_access = true": "SET is not allowed",
    "PRAGMA enable_checkpoint_on_shutdown": "PRAGMA is not allowed",
    "CALL checkpoint()": "CALL is not allowed",
    "SELECT * FROM orders; DROP TABLE orders": "found 2 statements (SELECT, DROP)",
    "SELECT * FROM read_csv('/etc/passwd')": "read_csv() reads files or other databases",
    "SELECT * FROM read_text('queries/sync.sql')": "read_text() reads files or other databases",
    "SELECT * FROM glob('/*')": "glob() reads files or other databases",
    "SELECT * FROM '/etc/passwd'": "'/etc/passwd' is not in the warehouse",
    "SELECT * FROM orders, LATERAL read_csv(order_id)": "read_csv() reads files",
    "SELECT * FROM sniff_csv('/etc/passwd')": "the table function sniff_csv() is not allowed",
    "SELECT * FROM query('SELECT * FROM orders')": "the table function query() is not allowed",
    "SELECT * FROM state.ledger": "table 'state.ledger' is not in the warehouse",
    "SELECT *, nextval('state.run_ids') AS n FROM orders": "nextval() changes a sequence",
    "SELECT *, setval('state.ledger_seq', 1) AS n FROM orders": "setval() changes a sequence",
}


@pytest.mark.parametrize("sql", REFUSED)
def test_the_sql_check_refuses_anything_but_reading(shop: Shop, emu: GatedMeta,
                                                    sql: str) -> None:
    shop.write_orders(5)
    shop.write_job(sql=sql)
    before = shop.warehouse.read_bytes()
    result = cli(shop, "run", "sync")
    assert result.exit_code == 1
    assert REFUSED[sql] in result.stderr and "Traceback" not in result.stderr
    assert not shop.project.state_path("sync").exists()  # never validated: no state file
    assert shop.warehouse.read_bytes() == before
    assert emu.arrived == []


@pytest.mark.parametrize("sql", REFUSED)
def test_a_refused_query_of_a_job_that_ran_touches_nothing_in_its_state(shop: Shop,
                                                                        emu: GatedMeta,
                                                                        sql: str) -> None:
    shop.write_orders(5)
    shop.write_job()
    assert cli(shop, "run", "sync").exit_code == 0
    delivered = len(emu.arrived)
    ledger_seq = shop.query_state("SELECT last_value FROM duckdb_sequences() "
                                  "WHERE sequence_name = 'ledger_seq'")[0]["last_value"]
    shop.write_job(sql=sql)
    before = shop.warehouse.read_bytes()
    result = cli(shop, "run", "sync")
    assert result.exit_code == 1 and REFUSED[sql] in result.stderr
    runs = shop.runs()
    assert [r["status"] for r in runs] == ["succeeded", "failed"]
    assert REFUSED[sql] in runs[-1]["error"]
    assert shop.warehouse.read_bytes() == before
    assert len(emu.arrived) == delivered
    sequences = shop.query_state("SELECT sequence_name, last_value FROM duckdb_sequences() "
                                 "WHERE database_name = 'state' ORDER BY 1")
    assert [(s["sequence_name"], s["last_value"]) for s in sequences] == [
        ("ledger_seq", ledger_seq), ("run_ids", 2)]  # only the refused run took a number


@pytest.fixture
def engine(shop: Shop) -> Engine:
    """The engine a run of ``sync`` uses: warehouse, state file, spill folder, locked."""
    shop.write_orders(5)
    project = shop.project
    with Engine(project.warehouse, state=project.state_path("sync"), temp_dir=project.spill,
                settings=project.engine_settings) as locked:
        yield locked


BLOCKED = {
    "CREATE TABLE wh.copy AS SELECT * FROM orders": "read-only mode",
    "INSERT INTO orders SELECT * FROM orders": "read-only mode",
    "DELETE FROM orders": "read-only mode",
    "COPY (SELECT 1 AS a) TO '{outside}/leak.csv'": "disabled by configuration",
    "SELECT * FROM read_text('/etc/hostname')": "disabled by configuration",
    "SELECT * FROM read_csv('{outside}/secret.csv')": "disabled by configuration",
    "ATTACH '{outside}/other.duckdb' AS other": "disabled by configuration",
    "SELECT * FROM read_text('{project}/queries/sync.sql')": "disabled by configuration",
    "COPY (SELECT 1 AS a) TO '{project}/leak.csv'": "disabled by configuration",
    "ATTACH '{project}/.offramp/state/other.duckdb' AS other": "disabled by configuration",
    "INSTALL httpfs": "disabled by configuration",
    "LOAD httpfs": "disabled",
    "SET enable_external_access = true": "the configuration has been locked",
    "SET allowed_directories = ['/']": "the configuration has been locked",
    "SET lock_configuration = false": "the configuration has been locked",
}


@pytest.mark.parametrize("sql", BLOCKED)
def test_duckdb_itself_refuses_writes_files_and_extensions(engine: Engine, shop: Shop,
                                                            tmp_path: Path, sql: str) -> None:
    """Past the SQL check, DuckDB refuses on its own: files outside the warehouse are out
    of reach, those next to the warehouse file (jobs, other jobs' state) included."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("a\n1\n")
    shop.write_job()
    with pytest.raises(duckdb.Error) as refused:
        engine.rows(sql.format(outside=outside, project=shop.root))
    assert BLOCKED[sql] in str(refused.value)
    for made in (outside / "leak.csv", outside / "other.duckdb", shop.root / "leak.csv",
                 shop.root / ".offramp" / "state" / "other.duckdb"):
        assert not made.exists()

