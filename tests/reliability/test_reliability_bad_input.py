"""Bad input: each case gets a clear error or a per-row rejection, never a
traceback, never a half-recorded run (a failed run carries its error; a run that
never started leaves no row)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reliability_kit import GatedMeta, Shop, cli, orders_table


def run_cleanly(shop: Shop, code: int) -> Any:
    """``offramp run sync``: the exit code expected, no traceback, no internal error."""
    result = cli(shop, "run", "sync")
    text = result.output + result.stderr
    assert result.exit_code == code, text
    assert "Traceback" not in text and "internal error" not in text
    return result


def assert_no_run_recorded(shop: Shop) -> None:
    state = shop.project.state_path("sync")
    assert not state.exists() or shop.runs() == []


def assert_failed_run(shop: Shop, message: str) -> str:
    (run,) = shop.runs()
    assert run["status"] == "failed" and run["finished_at"] is not None
    assert message in run["error"]
    return run["error"]


def use_parquet(shop: Shop, table: pa.Table) -> Path:
    exports = shop.root / "exports"
    exports.mkdir(exist_ok=True)
    (shop.root / "offramp.toml").write_text('[warehouse]\nparquet = "exports"\n')
    path = exports / "orders.parquet"
    pq.write_table(table, path)
    return path


# -- clear errors ---------------------------------------------------------------------------
def test_bad_sql(shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(10)
    shop.write_job(sql="SELEC order_id FROM orders")
    result = run_cleanly(shop, 1)
    assert "the SQL does not parse at line 9, column 1:" in result.stderr  # the file's line
    assert "`SELEC` is not a SQL keyword: did you mean SELECT?" in result.stderr
    assert_no_run_recorded(shop)  # a job that never validated gets no state file
    assert emu.arrivals == 0


def test_missing_warehouse(shop: Shop, emu: GatedMeta) -> None:
    shop.write_job()
    result = run_cleanly(shop, 1)
    assert f"the warehouse file {shop.warehouse} does not exist" in result.stderr
    assert "point [warehouse] duckdb in offramp.toml at yours" in result.stderr  # not markup
    assert_no_run_recorded(shop)


def test_corrupt_duckdb_warehouse(shop: Shop, emu: GatedMeta) -> None:
    shop.warehouse.write_bytes(b"this is not a DuckDB database" * 200)
    shop.write_job()
    result = run_cleanly(shop, 1)
    assert f"could not open the warehouse {shop.warehouse}" in result.stderr
    assert_no_run_recorded(shop)


def test_damaged_state_file(shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(10)
    shop.write_job()
    state = shop.project.state_path("sync")
    state.parent.mkdir(parents=True)
    state.write_bytes(b"\0garbage" * 1000)
    result = run_cleanly(shop, 1)
    assert f"the state file {state} is damaged" in result.stderr
    assert "move it aside" in result.stderr
    assert emu.arrivals == 0


def test_unreadable_parquet_file(shop: Shop, emu: GatedMeta) -> None:
    path = use_parquet(shop, orders_table(range(10), shop.now))
    path.write_bytes(path.read_bytes()[:100])  # cut short: no footer
    shop.write_job()
    result = run_cleanly(shop, 1)
    assert "could not open the warehouse" in result.stderr and "orders.parquet" in result.stderr
    assert_no_run_recorded(shop)


def test_parquet_with_corrupt_pages(shop: Shop, emu: GatedMeta) -> None:
    path = use_parquet(shop, orders_table(range(3000), shop.now))
    data = bytearray(path.read_bytes())
    for i in range(64, len(data) // 2, 5):  # scramble the column chunks, keep the footer
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    shop.write_job()
    result = run_cleanly(shop, 1)
    assert "DuckDB refused the query" in result.stderr
    assert_failed_run(shop, "DuckDB refused the query")
    assert emu.arrivals == 0


def test_wrong_column_type(shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(10)
    shop.write_job(sql="SELECT order_id, email, external_id, quantity, price > 0 "
                       "AS price, currency, ts AS timestamp FROM orders")
    result = run_cleanly(shop, 1)
    message = ("column `price` is BOOLEAN, but the meta destination needs a number (or text "
               "holding one): CAST it in the query")
    assert message in result.stderr
    assert_no_run_recorded(shop)


def test_non_utf8_bytes_in_a_blob_column(shop: Shop, emu: GatedMeta) -> None:
    table = orders_table(range(3), shop.now)
    blobs = pa.array([b"ok@example.com", b"\xff\xfe@example.com", b"x\xc3@example.com"])
    shop.write_orders(table=table.set_column(1, "email", blobs))
    shop.write_job()
    result = run_cleanly(shop, 1)
    assert "column `email` is BLOB, but the meta destination needs text" in result.stderr


def test_non_utf8_text_in_parquet(shop: Shop, emu: GatedMeta) -> None:
    """A Parquet string column holding bytes that are not UTF-8 (pyarrow writes them
    unchecked): DuckDB stops at it. The error says which file; it does not quote the
    value, which is customer data."""
    table = orders_table(range(5), shop.now)
    raw = pa.array([f"buyer{i}@example.com".encode() for i in range(4)]
                   + [b"secret\xff\xfe.person@example.com"], pa.binary())
    bad = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())
    use_parquet(shop, table.set_column(1, "email", bad))
    shop.write_job()
    result = run_cleanly(shop, 1)
    assert "not valid UTF8" in result.stderr and "orders.parquet" in result.stderr
    error = assert_failed_run(shop, "not valid UTF8")
    for text in (result.output, result.stderr, error, shop.dump_state()):
        assert "secret" not in text and "person@example" not in text


# -- per-row rejections -------------------------------------------------------------------
def messy_orders(now: dt.datetime) -> tuple[pa.Table, dict[str, str]]:
    """Five good orders and one bad order per case, with the reason each bad one gets."""
    ts = now.replace(tzinfo=None, microsecond=0) - dt.timedelta(hours=2)
    good = {"email": "good@example.com", "phone": None, "quantity": 1.0, "price": 9.5,
            "currency": "USD", "ts": ts, "name": "Ann"}
    price = "price is missing, not a finite number, or absurd"
    quantity = "quantity is missing, not a finite number, or absurd"
    contact = "no usable email or phone (missing or invalid after normalization)"
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "null-contact": ({"email": None}, contact),
        "bad-email": ({"email": "not an email"}, contact),
        "null-price": ({"price": None}, price),
        "nan-price": ({"price": math.nan}, price),
        "inf-price": ({"price": math.inf}, price),
        "neg-inf-price": ({"price": -math.inf}, price),
        "huge-price": ({"price": 1e300}, price),
        "null-quantity": ({"quantity": None}, quantity),
        "nan-quantity": ({"quantity": math.nan}, quantity),
        "inf-quantity": ({"quantity": math.inf}, quantity),
        "null-time": ({"ts": None}, "timestamp is missing or not a time"),
        "year-9999": ({"ts": dt.datetime(9999, 12, 31, 23, 59)}, "event_time is in the future"),
        "null-currency": ({"currency": None}, "currency NULL is not an ISO 4217 code"),
        "bad-currency": ({"currency": "ZZZ"}, "currency 'ZZZ' is not an ISO 4217 code"),
        "old": ({"ts": ts - dt.timedelta(days=90)}, "older than the 62-day window Meta accepts"),
    }
    rows = [dict(good, order_id=f"good-{i}") for i in range(5)]
    rows.append(dict(good, order_id="huge-name", name="N" * 1_000_000))  # 1 MB: hashed, sent
    rows.append(dict(good, order_id=None))
    reasons = {"row1:no-order-id": "order_id is missing"}  # the first row without one
    for key, (change, reason) in cases.items():
        rows.append(dict(good, order_id=key, **change))
        reasons[key] = reason
    table = pa.table({
        "order_id": pa.array([r["order_id"] for r in rows], pa.string()),
        "email": pa.array([r["email"] for r in rows], pa.string()),
        "phone": pa.array([r["phone"] for r in rows], pa.string()),
        "external_id": pa.array([f"c-{i}" for i in range(len(rows))], pa.string()),
        "quantity": pa.array([r["quantity"] for r in rows], pa.float64()),
        "price": pa.array([r["price"] for r in rows], pa.float64()),
        "currency": pa.array([r["currency"] for r in rows], pa.string()),
        "ts": pa.array([r["ts"] for r in rows], pa.timestamp("us")),
        "given_name": pa.array([r["name"] for r in rows], pa.string()),
    })
    return table, reasons


def test_absurd_values_are_rejected_per_row(shop: Shop, emu: GatedMeta) -> None:
    table, reasons = messy_orders(shop.now)
    shop.write_orders(table=table)
    shop.write_job(sql="SELECT order_id, email, phone, external_id, quantity, price, currency, "
                       "ts AS timestamp, given_name FROM orders")
    result = run_cleanly(shop, 0)
    assert "succeeded" in result.output
    rejects = {r["event_key"]: r["reason"] for r in shop.query_state(
        "SELECT event_key, reason FROM state.rejects")}
    assert rejects == reasons
    assert sorted(emu.accepted_ids()) == ["good-0", "good-1", "good-2", "good-3", "good-4",
                                          "huge-name"]
    huge = next(e for e in emu.events() if e["custom_data"]["order_id"] == "huge-name")
    assert len(huge["user_data"]["fn"]) == 64  # the 1 MB name went out as its hash
    (run,) = shop.runs()
    # the rejects hold every row refused: rejected events and line items refused alone
    assert (run["status"], run["delivered"], run["rejected"] + run["line_items"]) == (
        "succeeded", 6, len(reasons))


def test_nan_quantity_is_rejected_not_sent(shop: Shop, emu: GatedMeta) -> None:
    """NaN and infinite quantities make no valid JSON number: the event is refused
    (by the shaping SQL or, failing that, by Meta, isolated by splitting the request)
    and the rest of the request is delivered."""
    table = orders_table(range(20), shop.now)
    quantity = pa.array([math.nan, math.inf] + [1.0] * 18, pa.float64())
    shop.write_orders(table=table.set_column(4, "quantity", quantity))
    shop.write_job()
    run_cleanly(shop, 0)
    ledger = shop.ledger()
    rejected = {r["event_key"] for r in shop.query_state("SELECT event_key FROM state.rejects")}
    assert rejected == {"o00000", "o00001"}
    assert {k for k, s in ledger.items() if s == "delivered"} == {f"o{i:05d}" for i in
                                                                  range(2, 20)}
    assert sorted(emu.accepted_ids()) == [f"o{i:05d}" for i in range(2, 20)]


def test_an_event_larger_than_a_request_is_rejected(shop: Shop, emu: GatedMeta) -> None:
    """Meta takes at most 8 MB per request: a 9 MB event cannot be sent, whatever the
    retries; it is rejected with the reason, the other events go."""
    table = orders_table(range(3), shop.now)
    products = pa.array(["p" * 9_000_000, "sku-1", "sku-2"], pa.string())
    shop.write_orders(table=table.append_column("product_id", products))
    shop.write_job(sql="SELECT order_id, email, external_id, quantity, price, currency, "
                       "ts AS timestamp, product_id FROM orders")
    run_cleanly(shop, 0)
    (reject,) = shop.query_state("SELECT event_key, stage, reason FROM state.rejects")
    assert reject["event_key"] == "o00000"
    assert reject["reason"].startswith("the event is 9,0")
    assert "more than the 8,000,000 bytes the meta destination takes in one request" \
        in reject["reason"]
    assert sorted(emu.accepted_ids()) == ["o00001", "o00002"]
    assert max(len(c.body) for c in emu.arrived) < 8_000_000


def test_empty_result(shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(10)
    shop.write_job(where=" WHERE false")
    result = run_cleanly(shop, 0)
    assert "succeeded" in result.output and "events 0" in result.output
    (run,) = shop.runs()
    assert (run["status"], run["events"], run["requests"]) == ("succeeded", 0, 0)
    assert emu.arrivals == 0


@pytest.mark.parametrize("sql", ["", "/* only a comment */", ";"])
def test_no_query(shop: Shop, emu: GatedMeta, sql: str) -> None:
    shop.write_orders(10)
    path = shop.write_job()
    path.write_text(path.read_text().split("*/")[0] + "*/\n" + sql)
    result = run_cleanly(shop, 1)
    assert "the job has no SQL: write one SELECT after the header" in result.stderr
