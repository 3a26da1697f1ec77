"""Every reject reason, through the pipeline: rejected events are recorded with their
reason and never sent, while the rest of the job is delivered."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from tests.meta.conftest import NOW, deliver_rows, row, settings_for


def ago(**delta: float) -> dt.datetime:
    return (NOW - dt.timedelta(**delta)).replace(tzinfo=None)


NO_CONTACT = "no usable email or phone (missing or invalid after normalization)"
BAD_PRICE = "price is missing, not a finite number, or absurd"
RETURN = "quantity <= 0 (return or cancellation): line item not sent"
NO_ORDER_ID = "order_id is missing"
SPANNING = ("the rows of this order carry different customer fields (email, phone, name, "
            "address or ids): give every row of one order the same customer")

# (event key, reason) for each rejected case, and the rows that make it.
CASES = [
    ("return-only/sku-1", RETURN, [row("return-only", quantity=-1)]),
    ("cancelled/sku-1", RETURN, [row("cancelled", quantity=0, price=math.nan)]),
    ("no-contact", NO_CONTACT, [row("no-contact", email=None, phone=None)]),
    ("bad-email-no-phone", NO_CONTACT, [row("bad-email-no-phone", email="jane(at)example",
                                            phone=None)]),
    ("bad-currency", "currency 'XYZ' is not an ISO 4217 code",
     [row("bad-currency", currency="xyz")]),
    ("no-currency", "currency NULL is not an ISO 4217 code", [row("no-currency", currency=None)]),
    ("mixed", "mixed currencies in one order (EUR, USD)",
     [row("mixed"), row("mixed", product_id="sku-2", currency="EUR")]),
    ("future", "event_time is in the future", [row("future", timestamp=ago(minutes=-5))]),
    ("year-9999", "event_time is in the future",
     [row("year-9999", timestamp=dt.datetime(9999, 12, 31))]),
    ("email-8-days", "older than the 7-day window Meta accepts",
     [row("email-8-days", action_source="email", timestamp=ago(days=8))]),
    ("store-63-days", "older than the 62-day window Meta accepts",
     [row("store-63-days", timestamp=ago(days=63))]),
    ("nan-price", BAD_PRICE, [row("nan-price", price=math.nan)]),
    ("inf-price", BAD_PRICE, [row("inf-price", price=math.inf)]),
    ("absurd-price", BAD_PRICE, [row("absurd-price", price=5e12)]),
    ("null-price", BAD_PRICE, [row("null-price", price=None)]),
    ("one-bad-price", BAD_PRICE, [row("one-bad-price"),
                                  row("one-bad-price", product_id="sku-2", price=math.nan)]),
    ("null-timestamp", "timestamp is missing or not a time",
     [row("null-timestamp", timestamp=None)]),
    ("null-quantity", "quantity is missing, not a finite number, or absurd",
     [row("null-quantity", quantity=None)]),
    ("half-unit", "quantity must be a whole number of units (Meta's contents.quantity is an "
                  "integer)", [row("half-unit", quantity=1.5)]),
    ("two-customers", SPANNING, [row("two-customers"),
                                 row("two-customers", product_id="sku-2", email="joe@example.com",
                                     external_id="cust-2")]),
    ("phone-on-one-row", SPANNING, [row("phone-on-one-row"),
                                    row("phone-on-one-row", product_id="sku-2", phone=None)]),
    ("email-spelled-twice", SPANNING, [row("email-spelled-twice"),
                                       row("email-spelled-twice", product_id="sku-2",
                                           email="JANE@example.com")]),
]
GOOD = [
    row("good"),
    row("partly-returned"), row("partly-returned", product_id="sku-2", quantity=-1),
    row("email-6-days", action_source="email", timestamp=ago(days=6)),
    row("store-61-days", timestamp=ago(days=61)),
    row("phone-only", email=None),
    row("email-only", phone=None),
    row("in-a-minute", timestamp=ago(seconds=-30)),
    row("one-customer-three-rows"), row("one-customer-three-rows", product_id="sku-2"),
    row("one-customer-three-rows", product_id="sku-3"),
]
MISSING_ORDER_ID = [row(None), row("   ")]


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory):
    rows = [r for _, _, case_rows in CASES for r in case_rows] + GOOD + MISSING_ORDER_ID
    return deliver_rows(tmp_path_factory.mktemp("rejects"), rows)


@pytest.fixture(scope="module")
def rejects(delivered) -> dict[str, str]:
    return {r["event_key"]: r["reason"] for r in delivered.project.rejects()}


@pytest.mark.parametrize("key, reason", [(k, r) for k, r, _ in CASES],
                         ids=[k for k, _, _ in CASES])
def test_reject_reason(rejects, key, reason) -> None:
    assert rejects.get(key) == reason


def test_rows_without_an_order_id_are_rejected(rejects) -> None:
    missing = {k: r for k, r in rejects.items() if k.endswith(":no-order-id")}
    assert len(missing) == 2
    assert set(missing.values()) == {"order_id is missing"}


def test_rejected_events_are_never_sent_and_the_rest_are(delivered) -> None:
    assert delivered.summary.status == "succeeded"
    assert sorted(delivered.by_order()) == sorted(
        {r["order_id"] for r in GOOD})
    assert all("error" not in request for request in delivered.requests)


def test_counts_and_reasons_in_the_summary(delivered) -> None:
    counts = delivered.summary.counts
    assert counts.delivered == len({r["order_id"] for r in GOOD})
    # One reject per case, the partly returned order's return line and two rows without
    # an order id; the returned lines (3, two of them cases) and the rows without an order
    # id are line items, not events: counted apart, in none of the event counts.
    assert counts.line_item_reasons == {RETURN: 3, NO_ORDER_ID: 2}
    assert counts.line_items == 5 and RETURN not in counts.reasons
    assert counts.rejected == len(CASES) + 1 + 2 - 5
    assert counts.reasons[BAD_PRICE] == 5
    assert counts.events == counts.unchanged + counts.delivered + counts.rejected + \
        counts.failed + counts.pending


def test_a_partly_returned_order_is_sent_without_the_returned_line(delivered, rejects) -> None:
    custom = delivered.by_order()["partly-returned"]["custom_data"]
    assert [item["id"] for item in custom["contents"]] == ["sku-1"]
    assert custom["value"] == 10.0 and custom["num_items"] == 1
    assert rejects["partly-returned/sku-2"] == RETURN


def test_physical_store_62_days_on_first_send_then_7(meta_project, emu) -> None:
    meta_project.write_rows([row("first-61-days", timestamp=ago(days=61))])
    meta_project.write_job(settings_for())
    first = meta_project.run()
    assert first.counts.delivered == 1
    meta_project.write_rows([row("first-61-days", timestamp=ago(days=61)),
                             row("later-10-days", timestamp=ago(days=10)),
                             row("later-6-days", timestamp=ago(days=6))])
    second = meta_project.run()
    assert second.counts.delivered == 1 and second.counts.unchanged == 1
    assert second.counts.reasons == {"older than the 7-day window Meta accepts": 1}
    assert sorted(e["custom_data"]["order_id"] for e in emu.events()) == \
        ["first-61-days", "later-6-days"]


def test_window_settings(tmp_path) -> None:
    from tests.meta.conftest import shape_rows

    rows = [row("store-20-days", timestamp=ago(days=20)),
            row("email-3-days", action_source="email", timestamp=ago(days=3))]
    events = shape_rows(tmp_path, rows, window_days=2, first_send_window_days=30)
    assert events["store-20-days"]["reject_reason"] is None
    assert events["email-3-days"]["reject_reason"] == \
        "older than the 2-day window Meta accepts"


def test_delivered_events_that_age_out_stay_delivered(meta_project, emu) -> None:
    meta_project.write_rows([row("a"), row("b")])
    meta_project.write_job(settings_for())
    assert meta_project.run().counts.delivered == 2
    later = meta_project.run(now=NOW + dt.timedelta(days=8))
    assert (later.counts.unchanged, later.counts.rejected, later.counts.delivered) == (2, 0, 0)
    assert {e["status"] for e in meta_project.ledger()} == {"delivered"}
