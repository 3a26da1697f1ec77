"""The order's value (sum of price x quantity, or a value column) and identifier
columns stored as numbers."""

from __future__ import annotations

import hashlib
import math

import pyarrow as pa
import pytest

from connector.kit.errors import ConfigError
from tests.meta.conftest import rejected, row, sent, shape_rows, table


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture(scope="module")
def with_value_column(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    rows = [
        row("same", value=99.5), row("same", product_id="sku-2", value=99.5),
        row("differs", value=10.0), row("differs", product_id="sku-2", value=20.0),
        row("nan", value=math.nan), row("null", value=None),
        row("integer", value=42.0),
    ]
    return shape_rows(tmp_path_factory.mktemp("value"), rows)


def test_the_value_column_is_the_orders_value(with_value_column) -> None:
    custom = sent(with_value_column, "same")["custom_data"]
    assert custom["value"] == 99.5
    assert len(custom["contents"]) == 2


def test_a_value_that_differs_between_rows_of_an_order_is_rejected(with_value_column) -> None:
    assert rejected(with_value_column, "differs") == \
        "the value column differs between rows of one order"


@pytest.mark.parametrize("order", ["nan", "null"])
def test_a_missing_or_nan_value_is_rejected(with_value_column, order) -> None:
    assert rejected(with_value_column, order) == "value is missing or not a number"


def test_value_column_setting_names_another_column(tmp_path) -> None:
    rows = [row("a", order_total=55.0, value=1.0),
            row("a", product_id="sku-2", order_total=55.0, value=1.0)]
    events = shape_rows(tmp_path, rows, value_column="order_total")
    assert sent(events, "a")["custom_data"]["value"] == 55.0


def test_a_value_column_the_query_lacks_stops_with_the_fix(tmp_path) -> None:
    with pytest.raises(ConfigError, match="value_column = 'order_total' is not a column"):
        shape_rows(tmp_path, [row("a")], value_column="order_total")


def test_identifiers_stored_as_doubles_lose_the_fraction(tmp_path) -> None:
    data = table([row(42.0, phone=6505551212.0, external_id=7.0, postal=94025.0,
                      product_id=1001.0, birthdate=19970216.0)],
                 types={"order_id": pa.float64(), "phone": pa.float64(),
                        "external_id": pa.float64(), "postal": pa.float64(),
                        "product_id": pa.float64(), "birthdate": pa.float64()})
    payload = sent(shape_rows(tmp_path, data, default_country="US"), "42")
    assert payload["custom_data"]["order_id"] == "42"
    assert payload["custom_data"]["contents"][0]["id"] == "1001"
    user_data = payload["user_data"]
    assert user_data["ph"] == sha("16505551212")
    assert user_data["external_id"] == sha("7")
    assert user_data["zp"] == sha("94025")
    assert user_data["db"] == sha("19970216")


def test_identifiers_stored_as_decimals_lose_the_fraction(tmp_path) -> None:
    data = pa.Table.from_pylist([row("a", phone=None)]).append_column(
        "phone_number", pa.array([6505551212], pa.decimal128(12, 2)))
    sql = "SELECT * EXCLUDE (phone, phone_number), phone_number AS phone FROM orders"
    payload = sent(shape_rows(tmp_path, data, sql=sql, default_country="US"), "a")
    assert payload["user_data"]["ph"] == sha("16505551212")
