"""Column contracts: kinds, and check_contract's messages (every problem, with advice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.engines.warehouse import Engine, Warehouse
from connector.kit.contract import Column, Contract
from connector.validation.contract import check_contract
from connector.validation.query import check_query

#: Meta's offline events, as the seed document describes them.
META = Contract(
    required=(Column("external_id", "text"), Column("order_id", "text"),
              Column("quantity", "number"), Column("timestamp", "timestamp"),
              Column("price", "number"), Column("currency", "text")),
    one_of=((Column("email", "text"), Column("phone", "text")),),
    optional=(Column("given_name", "text"), Column("birthdate", "date")),
)

GOOD = {"external_id": "VARCHAR", "order_id": "VARCHAR", "quantity": "INTEGER",
        "timestamp": "TIMESTAMP", "price": "DOUBLE", "currency": "VARCHAR", "email": "VARCHAR"}


@pytest.mark.parametrize(("kind", "duckdb_type", "ok"), [
    ("number", "DECIMAL(18,2)", True), ("number", "DOUBLE", True), ("number", "HUGEINT", True),
    ("number", "VARCHAR", False), ("number", "BOOLEAN", False),
    ("integer", "BIGINT", True), ("integer", "DOUBLE", False),
    ("timestamp", "TIMESTAMP", True), ("timestamp", "TIMESTAMP WITH TIME ZONE", True),
    ("timestamp", "TIMESTAMP_NS", True), ("timestamp", "DATE", True),
    ("timestamp", "BIGINT", True),  # epoch seconds
    ("timestamp", "VARCHAR", False), ("timestamp", "INTERVAL", False),
    ("text", "VARCHAR", True), ("text", "ENUM('a', 'b')", True), ("text", "UUID", True),
    ("text", "INTEGER", False), ("text", "VARCHAR[]", False),
    ("date", "DATE", True), ("date", "VARCHAR", True), ("date", "INTEGER", False),
    ("boolean", "BOOLEAN", True), ("boolean", "INTEGER", False),
    ("any", "STRUCT(a INTEGER)", True),
    ("number", '"NULL"', True), ("text", "NULL", True),  # an untyped NULL fits anything
])
def test_kinds(kind: str, duckdb_type: str, ok: bool) -> None:
    assert Column("c", kind).accepts(duckdb_type) is ok  # type: ignore[arg-type]


def test_a_fitting_query_has_no_problems() -> None:
    assert check_contract(GOOD, META, "meta") == []
    assert check_contract({**GOOD, "email": "VARCHAR", "phone": "VARCHAR"}, META, "meta") == []


def test_every_missing_column_is_listed() -> None:
    problems = check_contract({"email": "VARCHAR"}, META, "meta")
    missing = ["external_id", "order_id", "quantity", "timestamp", "price", "currency"]
    assert len(problems) == len(missing)
    for name, problem in zip(missing, problems, strict=True):
        assert problem.startswith(f"column `{name}` is missing: the meta destination needs it")
        assert f"add `... AS {name}`" in problem


def test_one_of_group_and_did_you_mean() -> None:
    columns = {k: v for k, v in GOOD.items() if k != "email"} | {"email_address": "VARCHAR"}
    problems = check_contract(columns, META, "meta")
    assert problems == ["column `email` or `phone` is missing: the meta destination needs at "
                        "least one of them; did you mean email_address?"]


def test_did_you_mean_for_a_misspelled_required_column() -> None:
    columns = {k: v for k, v in GOOD.items() if k != "quantity"} | {"qty": "INTEGER",
                                                                    "quantity_sold": "INTEGER"}
    (problem,) = check_contract(columns, META, "meta")
    assert "column `quantity` is missing" in problem
    assert problem.endswith("; did you mean quantity_sold or qty?")


def test_wrong_types_say_what_to_do() -> None:
    columns = GOOD | {"quantity": "VARCHAR", "timestamp": "VARCHAR", "currency": "INTEGER",
                      "birthdate": "BOOLEAN"}
    problems = check_contract(columns, META, "meta")
    assert problems == [
        "column `quantity` is VARCHAR, but the meta destination needs a number: CAST it in "
        "the query",
        "column `timestamp` is VARCHAR, but the meta destination needs a timestamp or epoch "
        "seconds: CAST it in the query",
        "column `currency` is INTEGER, but the meta destination needs text: CAST it in the query",
        "column `birthdate` is BOOLEAN, but the meta destination needs a date: CAST it in the "
        "query",
    ]


def test_names_match_whatever_their_case() -> None:
    columns = {k.upper(): v for k, v in GOOD.items()}
    assert check_contract(columns, META, "meta") == []
    assert check_contract(columns | {"QUANTITY": "VARCHAR"}, META, "meta") == [
        "column `quantity` is VARCHAR, but the meta destination needs a number: CAST it in the "
        "query"]


def test_contract_columns_merge_every_group() -> None:
    assert list(META.columns()) == ["external_id", "order_id", "quantity", "timestamp", "price",
                                    "currency", "email", "phone", "given_name", "birthdate"]


def test_the_seed_query_fits_meta_against_the_real_warehouse(
        warehouse_schema: dict[str, dict[str, str]], _warehouse_template: Path) -> None:
    text = (Path(__file__).parent / "sql" / "accepted" / "seed_amperity_meta.sql").read_text()
    checked = check_query(text, warehouse_schema)
    with Engine(Warehouse("duckdb", _warehouse_template)) as engine:
        types = engine.describe(checked.sql)
    assert types["quantity"] == "INTEGER" and types["price"] == "DOUBLE"
    assert types["timestamp"] == "TIMESTAMP"
    assert check_contract(types, META, "meta") == []
    renamed = {("email_address" if k == "email" else k): v for k, v in types.items()
               if k != "phone"}
    assert any("did you mean email_address?" in p for p in check_contract(renamed, META, "meta"))
