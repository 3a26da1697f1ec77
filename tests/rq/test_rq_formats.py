"""Every response format parses to the same typed table; types follow the seed's schema."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from plugins.rq.emulator import REPORT_COLUMNS
from plugins.rq.fixtures import SEED_ROW, rows_for
from plugins.rq.formats import FormatError, error_message, parse
from plugins.rq.render import render
from plugins.rq.schema import MONEY, SCHEMA, BadValue, convert, to_table

START = dt.datetime(2024, 5, 1)
STOP = dt.datetime(2024, 5, 2)
PULLED = dt.datetime(2024, 5, 20, tzinfo=dt.UTC)
# A sample with everything the formats must agree on: the seed row, accents, an
# apostrophe, XML-special characters, blanks, a return, a four-decimal price.
ROWS = [dict(SEED_ROW)] + [row for _, row in rows_for(21090, dt.date(2024, 5, 1))] + [
    {"Email": "zoe.cote@example.com", "Phone": "(418) 555-0199", "FirstName": "Zoë",
     "LastName": "O'Connor & Côté", "City": "Québec", "Province": "QC", "PostalCode": None,
     "Country": "Canada", "Category": "Accessories,Cases <new>", "ProductLibraryID": "M7001-E1",
     "UnitPrice": Decimal("41.6583"), "ListPrice": Decimal("49.99"), "Quantity": -1,
     "ProductLibraryName": "Case \"Pro\"", "ProductLibraryCanonicalName": None}]


def table_of(fmt: str, **options: object) -> pa.Table:
    body, headers = render(ROWS, REPORT_COLUMNS, fmt, **options)  # type: ignore[arg-type]
    parsed = parse(body, fmt, headers["Content-Type"])
    assert parsed.rejected == []
    typed = to_table(parsed.rows, company_id=14682, window_start=START, window_stop=STOP,
                     pulled_at=PULLED)
    assert typed.rejected == []
    return typed.table


def test_the_schema_types_follow_the_seed() -> None:
    table = table_of("json")
    assert table.schema == SCHEMA
    assert table.schema.field("UnitPrice").type == MONEY == pa.decimal128(19, 4)
    assert table.schema.field("Quantity").type == pa.int32()
    assert table.schema.field("Email").type == pa.string()
    assert table.schema.field("window_start").type == pa.timestamp("us")
    assert table.num_rows == len(ROWS)


@pytest.mark.parametrize(("fmt", "options"), [
    ("jsondatatable", {}),
    ("xml", {}),
    ("xmldatatable", {}),
    ("csv", {"csv_quoting": "minimal"}),
    ("csv", {"csv_quoting": "none"}),  # like the seed: the Category commas are repaired
    ("json", {"numbers_as_strings": True}),  # the older examples: "UnitPrice": "250"
])
def test_each_format_gives_the_json_table(fmt: str, options: dict) -> None:
    expected = table_of("json")
    got = table_of(fmt, **options)
    assert got.equals(expected), got.to_pylist()[:1]


def test_values_are_exact() -> None:
    first, *_, last = table_of("csv").to_pylist()
    assert first["Category"] == "Activations,Smart Phones"
    assert (first["UnitPrice"], first["ListPrice"], first["Quantity"]) == (
        Decimal("250.0000"), Decimal("299.9900"), 1)
    assert first["ProductLibraryID"] == "M5592-E12435"
    assert last["LastName"] == "O'Connor & Côté" and last["Category"] == "Accessories,Cases <new>"
    assert last["UnitPrice"] == Decimal("41.6583") and last["Quantity"] == -1
    assert last["PostalCode"] is None and last["ProductLibraryCanonicalName"] is None
    assert (first["company_id"], first["window_start"], first["window_stop"]) == (
        14682, START, STOP)


SEED_JSON_NEWER = b"""[{"Email": "johntest@kentel.com", "Phone": "5555555555", "FirstName": "John",
 "LastName": "Test", "City": "Regina", "Province": "SK", "PostalCode": "H0H0H0",
 "Country": "Canada", "Category": "Activations,Smart Phones", "ProductLibraryID": "M5592-E12435",
 "UnitPrice": 250, "ListPrice": 299.99, "Quantity": 1,
 "ProductLibraryName": "Galaxy Gear Watch - Black",
 "ProductLibraryCanonicalName": "Smartphones"}]"""
SEED_JSON_OLDER = SEED_JSON_NEWER.replace(b"250,", b'"250",').replace(
    b"299.99,", b'"299.99",').replace(b"Quantity\": 1", b'Quantity\": "1"')


@pytest.mark.parametrize("body", [SEED_JSON_NEWER, SEED_JSON_OLDER], ids=["numbers", "strings"])
def test_the_seeds_json_examples_parse_to_the_seed_row(body: bytes) -> None:
    rows = parse(body, "json").rows
    typed = to_table(rows, company_id=1, window_start=START, window_stop=STOP, pulled_at=PULLED)
    (row,) = typed.table.to_pylist()
    assert row["ListPrice"] == Decimal("299.9900")  # exact, never through a binary float
    assert {k: row[k] for k in SEED_ROW} == {k: convert(k, v) for k, v in SEED_ROW.items()}


def test_zero_rows_give_a_zero_row_table_with_the_full_schema() -> None:
    for fmt in ("json", "jsondatatable", "xml", "csv"):
        body, headers = render([], REPORT_COLUMNS, fmt)
        typed = to_table(parse(body, fmt, headers["Content-Type"]).rows, company_id=1,
                         window_start=START, window_stop=STOP, pulled_at=PULLED)
        assert typed.table.num_rows == 0 and typed.table.schema == SCHEMA


def test_values_that_do_not_fit_reject_the_row_without_quoting_it() -> None:
    rows = [dict(SEED_ROW), {**SEED_ROW, "Quantity": "two"}, {**SEED_ROW, "UnitPrice": "1.2.3"},
            {**SEED_ROW, "Quantity": "1.5"}]
    typed = to_table(rows, company_id=1, window_start=START, window_stop=STOP, pulled_at=PULLED)
    assert typed.table.num_rows == 1
    assert typed.rejected == [(2, "Quantity is not a number"), (3, "UnitPrice is not a number"),
                              (4, "Quantity is not a whole number")]


def test_unknown_columns_are_reported_and_missing_ones_are_null() -> None:
    typed = to_table([{"Email": "a@example.com", "StoreName": "Main St"}], company_id=1,
                     window_start=START, window_stop=STOP, pulled_at=PULLED)
    assert typed.unknown_columns == {"StoreName"}
    assert typed.table.column("Quantity").to_pylist() == [None]


def test_convert_edges() -> None:
    assert convert("UnitPrice", " 12 ") == Decimal("12.0000")
    assert convert("Quantity", Decimal("2.0")) == 2
    assert convert("Phone", 5555555555) == "5555555555"
    with pytest.raises(BadValue, match="does not fit MONEY"):
        convert("UnitPrice", "1" * 20)
    with pytest.raises(BadValue, match="does not fit INT"):
        convert("Quantity", str(2**31))
    with pytest.raises(BadValue, match="finite"):
        convert("UnitPrice", "NaN")


@pytest.mark.parametrize(("body", "fmt", "message"), [
    (b"[{", "json", "does not parse"),
    (b'{"a": 1}', "json", "not an array of row objects"),
    (b"[1, 2]", "jsondatatable", "no Records"),
    (b"<Tabel/>", "xml", "not <Table>"),
    (b"<Table>", "xml", "does not parse"),
    (b"\xff\xfe", "csv", "not valid utf-8"),
])
def test_malformed_bodies_raise_format_errors(body: bytes, fmt: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse(body, fmt, "text/plain")


def test_a_byte_order_mark_and_a_named_charset_are_honoured() -> None:
    body = ("\ufeff" + "Email,City\r\na@example.com,Québec\r\n").encode("utf-8")
    assert parse(body, "csv").rows == [{"Email": "a@example.com", "City": "Québec"}]
    latin = "Email,City\r\na@example.com,Québec\r\n".encode("latin-1")
    assert parse(latin, "csv", "text/csv; charset=ISO-8859-1").rows[0]["City"] == "Québec"


def test_error_envelopes_are_recognised() -> None:
    assert error_message('{"Error": true, "Message": "Rate Limiting Applied."}') == (
        "Rate Limiting Applied.")
    assert error_message('[{"Error": true}]') is None
    assert error_message("not json") is None
