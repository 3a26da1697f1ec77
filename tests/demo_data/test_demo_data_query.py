"""The Amperity example query runs as written against the demo warehouse (DuckDB and Parquet)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from connector.engines.warehouse import Engine, Warehouse, WarehouseWriter
from plugins.meta.demo_data import TRANSACTIONS, build_demo_warehouse, demo_query

SEED_COLUMNS = {
    "external_id": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR", "given_name": "VARCHAR",
    "surname": "VARCHAR", "birthdate": "DATE", "gender": "VARCHAR", "city": "VARCHAR",
    "state": "VARCHAR", "postal": "VARCHAR", "country": "VARCHAR", "order_id": "VARCHAR",
    "quantity": "INTEGER", "product_id": "VARCHAR", "timestamp": "TIMESTAMP",
    "price": "DOUBLE", "currency": "VARCHAR", "action_source": "VARCHAR",
}
WINDOW_7 = "WHERE uit.order_datetime > (CURRENT_DATE - interval '7' day)"


def _window(days: int) -> str:
    return demo_query().replace("interval '7' day", f"interval '{days}' day")


def test_query_file_is_the_seed_query() -> None:
    query = demo_query()
    assert query.startswith("SELECT\n  c360.amperity_id AS external_id\n  ,c360.email AS email\n")
    assert "  ,CAST(uit.item_revenue / uit.item_quantity AS DOUBLE) AS price\n" in query
    assert "FROM Unified_Itemized_Transactions uit\n" \
           "LEFT JOIN Customer_360 c360 ON uit.amperity_id = c360.amperity_id\n" in query
    assert query.rstrip("\n").endswith(WINDOW_7)


def test_query_returns_the_18_seed_columns(live_engine: Engine) -> None:
    columns = live_engine.describe(demo_query())
    assert list(columns) == list(SEED_COLUMNS)
    assert columns == SEED_COLUMNS


def test_seed_query_returns_the_last_7_days(live_engine: Engine) -> None:
    [(today,)] = live_engine.rows("SELECT CURRENT_DATE")
    cutoff = dt.datetime.combine(today, dt.time()) - dt.timedelta(days=7)
    rows = live_engine.rows(demo_query())
    [(expected, total)] = live_engine.rows(
        f"SELECT count(*) FILTER (WHERE order_datetime > ?), count(*) FROM {TRANSACTIONS}",
        [cutoff])
    assert len(rows) == expected
    assert 0.08 * total < len(rows) < 0.25 * total
    assert all(row[14] > cutoff for row in rows)
    assert {row[16] for row in rows} == {"USD"}
    assert {row[17] for row in rows} == {"physical_store"}
    # The mess reaches the destination: guests, returns, 0/0 prices, future timestamps.
    assert any(row[0] is None for row in rows)
    assert any(row[12] < 0 for row in rows)
    assert any(math.isnan(row[15]) for row in rows if row[12] == 0)
    assert any(row[14] >= dt.datetime.combine(today, dt.time()) for row in rows)


def test_62_day_variant_returns_more(live_engine: Engine) -> None:
    [(seven,)] = live_engine.rows(f"SELECT count(*) FROM ({demo_query()})")
    [(sixty_two,)] = live_engine.rows(f"SELECT count(*) FROM ({_window(62)})")
    assert sixty_two > 4 * seven


def test_parquet_warehouse_gives_the_same_result(tmp_path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    results = {}
    for kind, path in (("duckdb", tmp_path / "w.duckdb"), ("parquet", tmp_path / "parquet")):
        with WarehouseWriter(Warehouse(kind, path)) as writer:
            written = build_demo_warehouse(writer, orders=3_000, today=today)
        with Engine(Warehouse(kind, path)) as engine:
            assert engine.describe(demo_query()) == SEED_COLUMNS
            results[kind] = engine.rows(
                f"SELECT order_id, product_id, quantity, external_id, email "
                f"FROM ({_window(62)}) ORDER BY ALL")
            [(rows,)] = engine.rows(f"SELECT count(*) FROM {TRANSACTIONS}")
            assert rows == written[TRANSACTIONS]
    assert (tmp_path / "parquet" / "Customer_360" / "all.parquet").is_file()
    assert len(results["parquet"]) > 1_000
    assert results["parquet"] == results["duckdb"]
