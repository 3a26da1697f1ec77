"""The demo tables: determinism, shape, types, time spread and realistic values."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connector.engines.warehouse import Engine, Warehouse, WarehouseWriter
from plugins.meta.demo_data import (
    CUSTOMERS,
    TRANSACTIONS,
    build_demo_warehouse,
    demo_tables,
)

TODAY = dt.date(2026, 3, 15)  # the conftest's builds are as of this day too


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_same_inputs_give_byte_identical_tables() -> None:
    first = demo_tables(orders=2_000, seed=11, today=TODAY)
    second = demo_tables(orders=2_000, seed=11, today=TODAY)
    for name in (CUSTOMERS, TRANSACTIONS):
        assert first[name].equals(second[name])
        assert _parquet_bytes(first[name]) == _parquet_bytes(second[name])


def test_seed_and_today_change_the_data() -> None:
    base = demo_tables(orders=500, seed=1, today=TODAY)
    other_seed = demo_tables(orders=500, seed=2, today=TODAY)
    next_day = demo_tables(orders=500, seed=1, today=TODAY + dt.timedelta(days=1))
    assert not base[CUSTOMERS].equals(other_seed[CUSTOMERS])
    assert not base[TRANSACTIONS].equals(other_seed[TRANSACTIONS])
    # Same draws, one day later: every timestamp moves by exactly one day.
    shifted = [t + dt.timedelta(days=1)
               for t in base[TRANSACTIONS].column("order_datetime").to_pylist()]
    assert next_day[TRANSACTIONS].column("order_datetime").to_pylist() == shifted


def test_orders_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        demo_tables(orders=0, today=TODAY)


def test_schemas_match_the_amperity_columns(fixed_engine: Engine) -> None:
    schema = fixed_engine.schema()
    assert schema[CUSTOMERS] == {
        "amperity_id": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR",
        "given_name": "VARCHAR", "surname": "VARCHAR", "birthdate": "DATE",
        "gender": "VARCHAR", "city": "VARCHAR", "state": "VARCHAR", "postal": "VARCHAR",
        "country": "VARCHAR"}
    assert schema[TRANSACTIONS] == {
        "amperity_id": "VARCHAR", "order_id": "VARCHAR", "product_id": "VARCHAR",
        "item_quantity": "INTEGER", "item_revenue": "DECIMAL(18,2)",
        "order_datetime": "TIMESTAMP", "purchase_channel": "VARCHAR",
        "purchase_brand": "VARCHAR", "is_cancellation": "BOOLEAN", "is_return": "BOOLEAN",
        "store_id": "VARCHAR"}


def test_row_counts_and_items_per_order(tables: dict[str, pa.Table]) -> None:
    items = tables[TRANSACTIONS]
    assert tables[CUSTOMERS].num_rows == 12_000
    order_ids = items.column("order_id").to_pylist()
    assert len(set(order_ids)) == 20_000
    assert 3.0 <= items.num_rows / 20_000 <= 3.4
    sales = Counter(o for o, q in zip(order_ids, items.column("item_quantity").to_pylist(),
                                      strict=True) if q >= 0)
    assert set(sales.values()) == {1, 2, 3, 4, 5, 6}
    assert 3.0 <= sum(sales.values()) / len(sales) <= 3.3
    ids = tables[CUSTOMERS].column("amperity_id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 36 and i.count("-") == 4 for i in ids)


def test_orders_spread_over_70_days_denser_recently(tables: dict[str, pa.Table]) -> None:
    midnight = dt.datetime.combine(TODAY, dt.time())
    first_seen: dict[str, dt.datetime] = {}
    items = tables[TRANSACTIONS]
    for order, when in zip(items.column("order_id").to_pylist(),
                           items.column("order_datetime").to_pylist(), strict=True):
        first_seen.setdefault(order, when)
    past = [midnight - t for t in first_seen.values() if t < midnight]
    future = [t - midnight for t in first_seen.values() if t >= midnight]
    assert max(past) <= dt.timedelta(days=70)
    assert 10 <= len(future) <= 100
    assert all(dt.timedelta(hours=2) <= f < dt.timedelta(days=3) for f in future)
    last_7 = sum(p <= dt.timedelta(days=7) for p in past)
    last_62 = sum(p <= dt.timedelta(days=62) for p in past)
    weeks_ago_8 = sum(dt.timedelta(days=56) < p <= dt.timedelta(days=63) for p in past)
    assert 0.10 * 20_000 < last_7 < 0.25 * 20_000
    assert last_62 > 0.85 * 20_000
    assert last_7 > 1.5 * weeks_ago_8


def test_values_are_realistic(tables: dict[str, pa.Table]) -> None:
    items = tables[TRANSACTIONS].to_pydict()
    unit: dict[str, set[Decimal]] = {}
    for product, quantity, revenue in zip(items["product_id"], items["item_quantity"],
                                          items["item_revenue"], strict=True):
        assert product.startswith("SKU-1") and len(product) == 9
        if quantity == 0:
            assert revenue == 0
        else:
            unit.setdefault(product, set()).add(revenue / quantity)
    assert all(len(prices) == 1 for prices in unit.values())  # revenue = price x quantity
    prices = [p for (p,) in unit.values()]
    assert min(prices) == Decimal("2.99") and max(prices) == Decimal("899.00")
    assert set(items["purchase_channel"]) == {"store", "online", "phone"}
    assert set(items["purchase_brand"]) == {"ACME Essentials", "ACME Pro", "Northwind"}


def test_the_default_demo_has_twenty_thousand_orders(tmp_path) -> None:
    with WarehouseWriter(Warehouse("duckdb", tmp_path / "w.duckdb")) as writer:
        written = build_demo_warehouse(writer, today=TODAY)
    assert written[CUSTOMERS] == 12_000 and written[TRANSACTIONS] > 60_000


def test_rebuilding_replaces_the_tables(tmp_path) -> None:
    warehouse = Warehouse("duckdb", tmp_path / "w.duckdb")
    for orders in (300, 100):
        with WarehouseWriter(warehouse) as writer:
            written = build_demo_warehouse(writer, orders=orders, today=TODAY)
    with Engine(warehouse) as engine:
        [(orders_seen, rows)] = engine.rows(
            f"SELECT count(DISTINCT order_id), count(*) FROM {TRANSACTIONS}")
        [(customers,)] = engine.rows(f"SELECT count(*) FROM {CUSTOMERS}")
    assert (orders_seen, rows, customers) == (100, written[TRANSACTIONS], 60)


_DIGEST = """
import datetime as dt, hashlib, io, sys
import pyarrow.parquet as pq
from plugins.meta.demo_data import demo_tables
for name, table in sorted(demo_tables(orders=300, seed=5, today=dt.date(2026, 3, 15)).items()):
    sink = io.BytesIO()
    pq.write_table(table, sink)
    print(name, hashlib.sha256(sink.getvalue()).hexdigest())
"""


@pytest.mark.slow
def test_identical_across_processes_and_hash_seeds() -> None:
    root = Path(__file__).resolve().parents[2]
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed,
               "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run([sys.executable, "-c", _DIGEST], env=env, capture_output=True,
                              text=True, check=True, timeout=60)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") == 2
