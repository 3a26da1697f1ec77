"""Rows to Data Manager events: one event per order, its fields, routing, consent, and
every reject reason (decided before anything is sent)."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.kit import ConfigError
from tests.google.destination_support import ACTION, now, rejected, row, sent, shape

HOUR_AGO = (now() - dt.timedelta(hours=1)).replace(tzinfo=None)


def test_one_event_per_order_with_its_lines_in_cart_data(tmp_path) -> None:
    rows = [row("o-1", product_id="a", price=10.0, quantity=2, timestamp=HOUR_AGO),
            row("o-1", product_id="b", price=2.5, quantity=1, timestamp=HOUR_AGO),
            row("o-1", product_id="c", price=4.0, quantity=-1, timestamp=HOUR_AGO)]
    events = shape(tmp_path, rows)
    event = sent(events, "o-1")
    assert events["o-1"]["route"] == ACTION
    stamp = HOUR_AGO.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert {k: event[k] for k in ("transactionId", "eventTimestamp", "eventSource", "currency",
                                  "conversionValue")} == {
        "transactionId": "o-1", "eventTimestamp": stamp, "eventSource": "IN_STORE",
        "currency": "USD", "conversionValue": 22.5}
    assert event["cartData"]["items"] == [
        {"merchantProductId": "a", "quantity": "2", "unitPrice": 10.0},
        {"merchantProductId": "b", "quantity": "1", "unitPrice": 2.5}]
    assert [i for u in event["userData"]["userIdentifiers"] for i in u] == [
        "emailAddress", "phoneNumber", "address"]
    assert rejected(events, "o-1/c") == ("quantity <= 0 (return or cancellation): line item "
                                         "not sent")


def test_a_value_column_wins_and_click_ids_and_event_source_are_sent(tmp_path) -> None:
    rows = [row("o", value=99.5, price=None, gclid="Cj0KCQ-click", email=None, phone=None,
                given_name=None, surname=None, postal=None, country=None)]
    event = sent(shape(tmp_path, rows, event_source="PHONE"), "o")
    assert event["conversionValue"] == 99.5 and event["eventSource"] == "PHONE"
    assert event["adIdentifiers"] == {"gclid": "Cj0KCQ-click"}
    assert "userData" not in event


def test_rows_route_to_conversion_actions_by_id_or_name(tmp_path) -> None:
    rows = [row("default"), row("named", conversion_action="store"),
            row("by-id", conversion_action="777"), row("unknown", conversion_action="web")]
    events = shape(tmp_path, rows, conversion_actions={"store": "888"})
    assert [events[k]["route"] for k in ("default", "named", "by-id")] == [ACTION, "888", "777"]
    assert "neither a conversion action id nor a name" in rejected(events, "unknown")


def test_row_consent_goes_on_the_event_and_denied_consent_is_rejected(tmp_path) -> None:
    rows = [row("yes", ad_user_data="true", ad_personalization="granted"),
            row("none", ad_user_data=None, ad_personalization=None),
            row("no", ad_user_data="DENIED"), row("odd", ad_user_data="maybe")]
    events = shape(tmp_path, rows)
    assert sent(events, "yes")["consent"] == {"adUserData": "CONSENT_GRANTED",
                                              "adPersonalization": "CONSENT_GRANTED"}
    assert "consent" not in sent(events, "none")  # the request's (the job's) applies
    assert "DENIED_CONSENT" in rejected(events, "no")
    assert "not a consent value" in rejected(events, "odd")
    required = shape(tmp_path / "req", rows, consent_required=True)
    assert "consent_required is on" in rejected(required, "none")
    job_default = shape(tmp_path / "denied", [row("o")], ad_user_data="denied")
    assert "DENIED_CONSENT" in rejected(job_default, "o")


def test_validate_only_routes_apart(tmp_path) -> None:
    events = shape(tmp_path, [row("o")], validate_only=True)
    assert events["o"]["route"] == f"validate-only:{ACTION}"


BLANK = dict(email=None, phone=None, given_name=None, surname=None, postal=None, country=None)
REJECTS = [
    ("no-time", dict(timestamp=None), "timestamp is missing"),
    ("no-quantity", dict(quantity=None), "quantity is missing"),
    ("half-unit", dict(quantity=1.5), "whole number of units"),
    ("no-price", dict(price=None), "price is missing"),
    ("bad-currency", dict(currency="XYZ"), "not an ISO 4217 code"),
    ("no-currency", dict(currency=None), "currency is missing"),
    ("negative", dict(price=-3.0), "value is negative"),
    ("no-identifier", dict(**BLANK), "no usable identifier"),
    ("bad-email-only", dict(BLANK, email="n/a"), "no usable identifier"),
    ("both-braids", dict(BLANK, gbraid="g1", wbraid="w1"), "gbraid and wbraid are both set"),
    ("braid-gclid", dict(BLANK, gbraid="g1", gclid="c1"), "cannot go with a gclid"),
    ("braid-user", dict(wbraid="w1"), "cannot go with user identifiers"),
    ("future", dict(timestamp=(now() + dt.timedelta(hours=2)).replace(tzinfo=None)),
     "in the future"),
    ("too-old", dict(timestamp=(now() - dt.timedelta(days=91)).replace(tzinfo=None)),
     "older than the 90-day window"),
]


@pytest.fixture(scope="module")
def rejects(tmp_path_factory) -> dict[str, dict]:
    rows = [row(key, **fields) for key, fields, _ in REJECTS]
    rows += [row("mixed", currency="USD"), row("mixed", currency="EUR", product_id="x"),
             row("two-people", email="a@example.com"),
             row("two-people", email="b@example.com", product_id="x")]
    return shape(tmp_path_factory.mktemp("rejects"), rows)


@pytest.mark.parametrize(("key", "fields", "reason"), REJECTS, ids=[r[0] for r in REJECTS])
def test_rows_google_would_refuse_are_rejected_with_a_reason(rejects, key, fields,
                                                            reason) -> None:
    assert reason in rejected(rejects, key)


def test_orders_whose_rows_disagree_are_rejected(rejects) -> None:
    assert "more than one currency" in rejected(rejects, "mixed")
    assert "different customer fields" in rejected(rejects, "two-people")


def test_reject_reasons_never_quote_customer_values(rejects) -> None:
    reasons = " ".join(e["reject_reason"] or "" for e in rejects.values())
    for value in ("XYZ", "n/a", "g1", "w1", "c1", "example.com", "EUR"):
        assert value not in reasons


def test_an_address_needs_all_its_columns(tmp_path) -> None:
    with pytest.raises(ConfigError, match="needs given_name, surname, postal and country"):
        shape(tmp_path, [row("o")], sql="SELECT * EXCLUDE (postal) FROM orders")
    with pytest.raises(ConfigError, match="conversion_action column"):
        shape(tmp_path / "b", [row("o")], conversion_action_id=None,
              conversion_actions={"store": "1"})


def test_boolean_consent_columns_are_read(tmp_path) -> None:
    import pyarrow as pa

    from tests.google.destination_support import table

    rows = table([row("yes", ad_user_data=True), row("no", ad_user_data=False)],
                 types={"ad_user_data": pa.bool_()})
    events = shape(tmp_path, rows)
    assert sent(events, "yes")["consent"] == {"adUserData": "CONSENT_GRANTED"}
    assert "DENIED_CONSENT" in rejected(events, "no")
