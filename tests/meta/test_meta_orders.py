"""Rows to events through the pipeline, delivered to the emulator: grouping by
``order_id``, contents, value, num_items, currency, event_time, event_id, and ids
that stay the same across re-runs (so that Meta deduplicates a resend)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from tests.meta.conftest import (
    HOUR_AGO,
    NOW,
    NOW_S,
    deliver_rows,
    rejected,
    row,
    sent,
    shape_rows,
)


def at(minutes_before_now: int) -> dt.datetime:
    return (NOW - dt.timedelta(minutes=minutes_before_now)).replace(tzinfo=None)


ROWS = [
    # three line items of one order, out of order, at three times
    row("multi", product_id="sku-b", quantity=2, price=4.5, timestamp=at(60)),
    row("multi", product_id="sku-a", quantity=1, price=10.0, timestamp=at(90)),
    row("multi", product_id="sku-c", quantity=3, price=0.99, timestamp=at(45)),
    row("single"),
    row("with-event-id", event_id=" evt-77 "),
    row("brand-category", brand="Acme", category="Shoes"),
    row("no-product", product_id=None, quantity=2, price=7.25),
    row("rounding", quantity=3, price=3.333),
    row('quote"and\\backslash', product_id="café-1"),
    row("  padded-id  "),
    row("12345"),
]


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory):
    return deliver_rows(tmp_path_factory.mktemp("orders"), ROWS,
                        reruns=({}, {"full": True}))


def test_every_order_is_one_event_and_all_are_accepted(delivered) -> None:
    first = delivered.summary
    assert first.status == "succeeded"
    assert first.counts.rows_read == len(ROWS)
    assert first.counts.delivered == len(ROWS) - 2 == len(delivered.by_order())
    assert first.counts.rejected == 0
    assert sorted(delivered.by_order()) == sorted(
        ["multi", "single", "with-event-id", "brand-category", "no-product", "rounding",
         'quote"and\\backslash', "padded-id", "12345"])


def test_line_items_become_contents_value_and_num_items(delivered) -> None:
    event = delivered.by_order()["multi"]
    custom = event["custom_data"]
    assert custom["contents"] == [
        {"id": "sku-a", "quantity": 1, "item_price": 10.0},
        {"id": "sku-b", "quantity": 2, "item_price": 4.5},
        {"id": "sku-c", "quantity": 3, "item_price": 0.99},
    ]
    assert custom["value"] == pytest.approx(2 * 4.5 + 10.0 + 3 * 0.99)
    assert custom["num_items"] == 6
    assert custom["currency"] == "USD"
    assert custom["order_id"] == "multi"
    assert custom["content_type"] == "product"


def test_event_defaults(delivered) -> None:
    event = delivered.by_order()["single"]
    assert event["event_name"] == "Purchase"
    assert event["action_source"] == "physical_store"
    assert event["event_id"] == "single"
    assert "data_processing_options" not in event
    assert "event_source_url" not in event


def test_event_time_is_the_orders_earliest_timestamp_in_unix_seconds_utc(delivered) -> None:
    assert delivered.by_order()["multi"]["event_time"] == NOW_S - 90 * 60
    assert delivered.by_order()["single"]["event_time"] == NOW_S - 3600


def test_event_id_column_wins_over_the_order_id(delivered) -> None:
    assert delivered.by_order()["with-event-id"]["event_id"] == "evt-77"


def test_brand_and_category_are_copied_into_contents(delivered) -> None:
    [item] = delivered.by_order()["brand-category"]["custom_data"]["contents"]
    assert item == {"id": "sku-1", "quantity": 1, "item_price": 10.0, "brand": "Acme",
                    "category": "Shoes"}


def test_without_product_ids_there_are_no_contents_but_a_value(delivered) -> None:
    custom = delivered.by_order()["no-product"]["custom_data"]
    assert "contents" not in custom
    assert custom["value"] == 14.5 and custom["num_items"] == 2


def test_money_is_rounded_to_cents(delivered) -> None:
    custom = delivered.by_order()["rounding"]["custom_data"]
    assert custom["value"] == 10.0
    assert custom["contents"][0]["item_price"] == 3.33


def test_ids_are_json_escaped_trimmed_and_text(delivered) -> None:
    orders = delivered.by_order()
    assert orders['quote"and\\backslash']["custom_data"]["contents"][0]["id"] == "café-1"
    assert orders["padded-id"]["event_id"] == "padded-id"
    assert orders["12345"]["event_id"] == "12345"


def test_a_second_run_sends_nothing(delivered) -> None:
    second = delivered.summaries[1]
    assert second.status == "succeeded"
    assert second.counts.delivered == 0
    assert second.counts.unchanged == len(ROWS) - 2


def test_a_full_resend_has_the_same_ids_so_meta_deduplicates_it(delivered) -> None:
    full = delivered.summaries[2]
    assert full.counts.delivered == len(ROWS) - 2
    # Same order_id, event_name and event_time: every resent event is a duplicate.
    assert delivered.duplicates == len(ROWS) - 2
    assert len(delivered.accepted) == len(ROWS) - 2


def test_ledger_keys_are_the_order_ids(delivered) -> None:
    keys = {entry["event_key"] for entry in delivered.project.ledger()}
    assert keys == set(delivered.by_order())


# -- the timestamp column's type --------------------------------------------------------------
TIMESTAMP_TYPES = {
    "naive": (pa.timestamp("us"), HOUR_AGO),
    "utc": (pa.timestamp("us", tz="UTC"), NOW - dt.timedelta(hours=1)),
    "offset": (pa.timestamp("us", tz="Europe/Paris"), NOW - dt.timedelta(hours=1)),
    "seconds": (pa.timestamp("s"), HOUR_AGO),
    "epoch-int": (pa.int64(), NOW_S - 3600),
    "epoch-double": (pa.float64(), NOW_S - 3600 + 0.75),
    "date": (pa.date32(), (NOW - dt.timedelta(days=1)).date()),
}


@pytest.fixture(scope="module")
def by_type(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict]]:
    out = {}
    for name, (arrow_type, value) in TIMESTAMP_TYPES.items():
        rows = [row("o-1", timestamp=value), row("o-null", timestamp=None)]
        data = pa.Table.from_pylist(rows).set_column(
            list(rows[0]).index("timestamp"), "timestamp",
            pa.array([value, None], type=arrow_type))
        out[name] = shape_rows(tmp_path_factory.mktemp(name), data)
    return out


@pytest.mark.parametrize("name, expected", [
    ("naive", NOW_S - 3600), ("utc", NOW_S - 3600), ("offset", NOW_S - 3600),
    ("seconds", NOW_S - 3600), ("epoch-int", NOW_S - 3600), ("epoch-double", NOW_S - 3600),
    ("date", int(dt.datetime.combine((NOW - dt.timedelta(days=1)).date(), dt.time(),
                                     dt.UTC).timestamp())),
])
def test_event_time_from_each_timestamp_type(by_type, name: str, expected: int) -> None:
    assert sent(by_type[name], "o-1")["event_time"] == expected


@pytest.mark.parametrize("name", sorted(TIMESTAMP_TYPES))
def test_a_null_timestamp_is_rejected_whatever_the_type(by_type, name: str) -> None:
    assert rejected(by_type[name], "o-null") == "timestamp is missing or not a time"


# -- queries that already group by order --------------------------------------------------------
GROUPED_SQL = """
SELECT order_id, any_value(external_id) AS external_id, any_value(email) AS email,
       sum(quantity) AS quantity, min(timestamp) AS timestamp,
       sum(price * quantity) / sum(quantity) AS price, any_value(currency) AS currency
FROM orders GROUP BY order_id
"""


def test_a_query_grouped_by_order_gives_one_event_per_order(tmp_path) -> None:
    rows = [row("a", product_id="x", quantity=2, price=5.0),
            row("a", product_id="y", quantity=1, price=20.0), row("b")]
    events = shape_rows(tmp_path, rows, sql=GROUPED_SQL)
    assert set(events) == {"a", "b"}
    custom = sent(events, "a")["custom_data"]
    assert custom["value"] == 30.0 and custom["num_items"] == 3
    assert "contents" not in custom


def test_integer_order_ids_are_sent_as_text(tmp_path) -> None:
    events = shape_rows(tmp_path, [row(12345), row(67890, quantity=-1)])
    payload = sent(events, "12345")
    assert payload["custom_data"]["order_id"] == "12345" and payload["event_id"] == "12345"
    assert rejected(events, "67890/sku-1").startswith("quantity <= 0")


def test_returned_lines_are_line_items_on_every_run(tmp_path) -> None:
    """A returned line is a line item left out of its order's event, counted apart from
    the events; so is a wholly returned order's, which makes no event. A re-run that skips
    the unchanged orders reports them again, still as line items."""
    rows = [row("kept", product_id="a"), row("kept", product_id="b", quantity=-1),
            row("gone", product_id="c", quantity=-2), row("other")]
    runs = deliver_rows(tmp_path, rows, reruns=({},)).summaries
    for counts in (runs[0].counts, runs[1].counts):
        assert (counts.line_items, counts.rejected) == (2, 0)
        assert counts.line_item_reasons == {
            "quantity <= 0 (return or cancellation): line item not sent": 2}
        assert counts.events == 2 == counts.unchanged + counts.delivered
    assert (runs[0].counts.delivered, runs[1].counts.unchanged) == (2, 2)
