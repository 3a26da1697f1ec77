"""Golden SQL cases: ``sql/accepted/*.sql`` and ``sql/refused/*.sql``.

An accepted file opens with ``-- columns: a, b, c``: the output columns, which both
:func:`check_query` (sqlglot, before any row is read) and DuckDB itself must give.
A refused file opens with ``-- error: <text>``: a substring of the message.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.engines.warehouse import Engine, Warehouse
from connector.kit.errors import ValidationError
from connector.validation.query import check_query, parse_one_query

HERE = Path(__file__).parent / "sql"
ACCEPTED = sorted((HERE / "accepted").glob("*.sql"))
REFUSED = sorted((HERE / "refused").glob("*.sql"))


def _header(path: Path, key: str) -> tuple[str, str]:
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0]
    prefix = f"-- {key}:"
    assert first.startswith(prefix), f"{path.name} must open with '{prefix}'"
    return first.removeprefix(prefix).strip(), text


@pytest.fixture(scope="module")
def engine(_warehouse_template: Path) -> Iterator[Engine]:
    with Engine(Warehouse("duckdb", _warehouse_template)) as eng:
        yield eng


def test_there_are_golden_files() -> None:
    assert len(ACCEPTED) >= 20
    assert len(REFUSED) >= 35


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.stem)
def test_accepted(path: Path, warehouse_schema: dict[str, dict[str, str]],
                  engine: Engine) -> None:
    expected_text, sql = _header(path, "columns")
    expected = tuple(c.strip() for c in expected_text.split(","))
    checked = check_query(sql, warehouse_schema)
    assert checked.columns == expected
    # DuckDB agrees: the names sqlglot resolved are the names the query really returns.
    assert tuple(engine.describe(checked.sql)) == expected
    # the pipeline wraps the query in parentheses: that must work too
    assert tuple(engine.describe(f"SELECT * FROM ({checked.sql})")) == expected
    assert not checked.sql.endswith(";")


@pytest.mark.parametrize("path", REFUSED, ids=lambda p: p.stem)
def test_refused(path: Path, warehouse_schema: dict[str, dict[str, str]]) -> None:
    expected, sql = _header(path, "error")
    with pytest.raises(ValidationError) as info:
        check_query(sql, warehouse_schema)
    assert expected in str(info.value)
    assert info.value.problems, "a refusal lists its problems"


def test_every_refusal_is_one_clear_line_per_problem(
        warehouse_schema: dict[str, dict[str, str]]) -> None:
    with pytest.raises(ValidationError) as info:
        check_query("SELECT * FROM Customer_36 JOIN Unified_Itemized_Transaction USING (x)",
                    warehouse_schema)
    problems = info.value.problems
    assert len(problems) == 2
    assert any("did you mean Customer_360?" in p for p in problems)
    assert any("did you mean Unified_Itemized_Transactions?" in p for p in problems)
    assert str(info.value).splitlines() == [f"- {p}" for p in problems]


def test_parse_one_query_returns_the_query_node() -> None:
    node = parse_one_query("WITH x AS (SELECT 1 AS a) SELECT a FROM x")
    assert node.key == "select"


@pytest.mark.parametrize("sql", [
    "SELECT * FROM generate_series(1, 3) AS g(id)",
    "SELECT * FROM unnest([1, 2]) AS u(id)",
    "SELECT j.key AS id FROM json_each('{\"a\": 1}') AS j",
])
def test_harmless_table_functions_are_allowed(
        sql: str, warehouse_schema: dict[str, dict[str, str]], engine: Engine) -> None:
    checked = check_query(sql, warehouse_schema)
    assert tuple(engine.describe(checked.sql)) == checked.columns


def test_only_known_harmless_table_functions_pass(
        warehouse_schema: dict[str, dict[str, str]], engine: Engine) -> None:
    """Every table function in DuckDB's own catalog is refused, except a few that read
    nothing: an allowlist, so a new DuckDB release cannot open a way out."""
    rows = engine.rows("SELECT DISTINCT function_name FROM duckdb_functions() "
                       "WHERE function_type = 'table'")
    names = sorted(name for (name,) in rows)
    assert {"read_csv", "sniff_csv", "query", "glob", "enable_logging"} <= set(names)
    allowed = []
    for name in names:
        try:
            check_query(f"SELECT * FROM {name}('x')", warehouse_schema)
            allowed.append(name)
        except ValidationError:
            pass
    assert set(allowed) <= {"range", "generate_series", "unnest", "json_each", "json_tree",
                            "repeat", "repeat_row"}, allowed


def test_a_warehouse_table_named_like_a_catalog_view_is_read(tmp_path: Path) -> None:
    """The check refuses DuckDB's catalog views unless the warehouse has a table of that
    name, which DuckDB then reads instead of the view (the warehouse comes first)."""
    import pyarrow as pa

    from connector.engines.warehouse import WarehouseWriter

    warehouse = Warehouse("duckdb", tmp_path / "wh.duckdb")
    with WarehouseWriter(warehouse) as writer:
        writer.replace("duckdb_tables", pa.table({"order_id": ["o-1"]}), where={})
    with Engine(warehouse) as eng:
        checked = check_query("SELECT * FROM duckdb_tables", eng.schema())
        assert eng.rows(checked.sql) == [("o-1",)]
    with pytest.raises(ValidationError, match="duckdb_databases"):
        check_query("SELECT * FROM duckdb_databases", {"duckdb_tables": {"order_id": "TEXT"}})
