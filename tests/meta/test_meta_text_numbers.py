"""Quantities and prices written as text (CSV exports: ``'2'``, ``'3.0'``): text that is a
number is read as it; an order with text that is not is rejected with a reason that does
not quote the value; a type that can never be a number still stops the job at validation.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from connector.validation.contract import check_contract
from plugins.meta.destination import MetaDestination
from tests.meta.conftest import rejected, row, sent, shape_rows, table

TEXT = {"quantity": pa.string(), "price": pa.string()}


@pytest.mark.parametrize(("quantity", "price", "items", "value"), [
    ("2", "10", 2, 20.0), ("3.0", "2.5", 3, 7.5), (" 4 ", "1.25", 4, 5.0), ("1e1", "1", 10, 10.0),
    ("+5", "0.1", 5, 0.5),
])
def test_text_that_is_a_number_is_read_as_it(tmp_path, quantity: str, price: str, items: int,
                                             value: float) -> None:
    events = shape_rows(tmp_path, table([row("o-1", quantity=quantity, price=price)], TEXT))
    payload = sent(events, "o-1")
    assert payload["custom_data"]["num_items"] == items
    assert payload["custom_data"]["value"] == value
    assert payload["custom_data"]["contents"][0]["quantity"] == items


@pytest.mark.parametrize(("quantity", "price", "reason"), [
    ("two", "10", "quantity is missing, not a finite number, or absurd"),
    ("jane@example.com", "10", "quantity is missing, not a finite number, or absurd"),
    ("1,5", "10", "quantity is missing, not a finite number, or absurd"),
    ("2", "ten dollars", "price is missing, not a finite number, or absurd"),
    ("2", "+1 650 555 1212", "price is missing, not a finite number, or absurd"),
])
def test_text_that_is_not_a_number_rejects_its_order_only(tmp_path, quantity: str, price: str,
                                                          reason: str) -> None:
    events = shape_rows(tmp_path, table([row("o-bad", quantity=quantity, price=price),
                                         row("o-good", quantity="1", price="3")], TEXT))
    assert rejected(events, "o-bad") == reason
    assert quantity not in reason and price not in reason
    assert sent(events, "o-good")["custom_data"]["value"] == 3.0


@pytest.mark.parametrize("column", ["quantity", "price"])
@pytest.mark.parametrize("dtype", ["BOOLEAN", "DATE", "TIMESTAMP", "BLOB"])
def test_types_that_are_never_numbers_still_fail_validation(column: str, dtype: str) -> None:
    columns = {"external_id": "VARCHAR", "order_id": "VARCHAR", "quantity": "INTEGER",
               "timestamp": "TIMESTAMP", "price": "DOUBLE", "currency": "VARCHAR",
               "email": "VARCHAR"}
    assert check_contract(columns | {column: "VARCHAR"}, MetaDestination.contract, "meta") == []
    assert check_contract(columns | {column: dtype}, MetaDestination.contract, "meta") == [
        f"column `{column}` is {dtype}, but the meta destination needs a number (or text "
        "holding one): CAST it in the query"]
