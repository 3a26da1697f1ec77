"""The saved job ``rq_marketing_to_meta.sql``: its header, and its query run against a
warehouse pulled from the emulator, yielding the Meta offline-events columns."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest

from connector.engines.warehouse import Engine, Warehouse
from connector.kit.contract import Column
from plugins.rq.fixtures import SEED_ROW

JOB = Path(__file__).parents[2] / "queries" / "rq_marketing_to_meta.sql"
D1, D3, D7 = dt.date(2024, 5, 1), dt.date(2024, 5, 3), dt.date(2024, 5, 7)
# The Meta offline-events contract (seed 004): required, one-of, optional columns.
REQUIRED = {"external_id": "text", "order_id": "text", "quantity": "integer",
            "timestamp": "timestamp", "price": "number", "currency": "text"}
ONE_OF = {"email": "text", "phone": "text"}
OPTIONAL = {"given_name": "text", "surname": "text", "city": "text", "state": "text",
            "postal": "text", "country": "text", "product_id": "text"}


def split_job(text: str) -> tuple[dict, str]:
    match = re.match(r"\s*/\*\s*offramp\b(.*?)\*/(.*)", text, re.S)
    assert match, "the job must start with a /* offramp ... */ block"
    return tomllib.loads(match.group(1)), match.group(2)


HEADER, QUERY = split_job(JOB.read_text())


def run(wh: Warehouse) -> tuple[dict[str, str], list[dict]]:
    with Engine(wh) as engine:
        types = engine.describe(QUERY)
        rows = [dict(zip(types, r, strict=True)) for r in engine.rows(QUERY)]
    return types, rows


def test_the_header_names_meta_and_its_settings() -> None:
    assert HEADER == {"destination": "meta",
                      "settings": {"dataset_id": "123456789012345",
                                   "access_token_env": "META_ACCESS_TOKEN"}}
    assert QUERY.count(";") == 0 and "SELECT" in QUERY


def test_the_query_yields_the_contract_columns_with_sane_types(rq, warehouse) -> None:
    rq.write(rq.source(format="csv"), warehouse, D1, D7)
    types, rows = run(warehouse)
    assert set(types) == set(REQUIRED) | set(ONE_OF) | set(OPTIONAL)
    for name, kind in {**REQUIRED, **ONE_OF, **OPTIONAL}.items():
        assert Column(name, kind).accepts(types[name]), (name, types[name])  # type: ignore[arg-type]
    assert (types["timestamp"], types["price"], types["quantity"]) == (
        "TIMESTAMP", "DECIMAL(19,4)", "INTEGER")
    assert len(rows) > 40
    for row in rows:
        assert row["quantity"] > 0
        assert row["email"] or row["phone"]
        assert row["external_id"].startswith("rq-") and len(row["order_id"]) == 32
        assert row["timestamp"].time() == dt.time(0) and D1 <= row["timestamp"].date() <= D7
        assert row["price"] >= 0
        assert row["phone"] is None or re.fullmatch(r"1[0-9]{10}", row["phone"])
        assert row["country"] in (None, "ca", "us")
    currency = {r["external_id"].split("-")[1]: r["currency"] for r in rows}
    assert currency == {"14682": "CAD", "21090": "CAD", "30517": "USD"}


def test_order_ids_are_stable_and_group_a_customers_day(rq, warehouse) -> None:
    source = rq.source()
    rq.write(source, warehouse, D1, D3)
    _, first = run(warehouse)
    rq.write(rq.source(format="xml", now=rq.NOW + dt.timedelta(hours=1)), warehouse, D1, D3)
    _, again = run(warehouse)
    key = sorted((r["order_id"], r["product_id"], r["price"], r["quantity"]) for r in first)
    assert len(key) > 10
    assert key == sorted((r["order_id"], r["product_id"], r["price"], r["quantity"]) for r in again)
    # Two lines of one customer on one day are one order; another day is another order.
    rq.emu.set_rows(rq.KENTEL, D1, [SEED_ROW, {**SEED_ROW, "ProductLibraryID": "M7002-E30044"}])
    rq.emu.set_rows(rq.KENTEL, D1 + dt.timedelta(days=1), [SEED_ROW])
    rq.write(source, warehouse, D1, D1 + dt.timedelta(days=1), company=(rq.KENTEL,))
    _, rows = run(warehouse)
    john = [r for r in rows if r["email"] == "johntest@kentel.com"
            and r["timestamp"].date() <= D1 + dt.timedelta(days=1)]
    by_day: dict[dt.date, set[str]] = {}
    for r in john:
        by_day.setdefault(r["timestamp"].date(), set()).add(r["order_id"])
    assert {day: len(ids) for day, ids in by_day.items()} == {D1: 1, D1 + dt.timedelta(days=1): 1}
    assert by_day[D1] != by_day[D1 + dt.timedelta(days=1)]
    assert len({r["external_id"] for r in john}) == 1
    assert john[0]["phone"] == "15555555555" and john[0]["state"] == "SK"


def test_returns_and_unreachable_customers_are_left_out(rq, tmp_path) -> None:
    wh = Warehouse("duckdb", tmp_path / "w.duckdb")
    rq.emu.set_rows(rq.KENTEL, D1, [
        SEED_ROW,
        {**SEED_ROW, "Quantity": -1},
        {**SEED_ROW, "Email": None, "Phone": " "},
    ])
    rq.write(rq.source(), wh, company=(rq.KENTEL,))
    _, rows = run(wh)
    assert len(rows) == 1 and rows[0]["quantity"] == 1


@pytest.mark.parametrize(("countries", "currency"), [
    (["Canada", "Canada", None], "CAD"),
    (["United States", "USA", "Canada"], "USD"),  # the company's main market
    (["Mexico", None, None], None),  # unknown: NULL, and the destination rejects it
])
def test_currency_follows_the_companys_main_country(rq, tmp_path, countries, currency) -> None:
    wh = Warehouse("duckdb", tmp_path / "w.duckdb")
    rq.emu.set_rows(rq.PRAIRIE, D1, [
        {**SEED_ROW, "Email": f"c{n}@example.com", "Country": country}
        for n, country in enumerate(countries)])
    rq.write(rq.source(), wh, company=(rq.PRAIRIE,))
    _, rows = run(wh)
    assert {r["currency"] for r in rows} == {currency}
    assert len(rows) == 3
