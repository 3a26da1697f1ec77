"""shape_sql: grouping, values, time format, hashing and pre-send rejections, run in DuckDB."""

from __future__ import annotations

import hashlib
import json

import pytest

from plugins.microsoft.emulator_rules import FIELDS


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_rejected_conversions_keep_their_payload(shape):
    rows = shape("SELECT TIMESTAMP '2026-01-01 10:00:00' AS timestamp, 'c' AS microsoft_click_id")
    assert rows[0]["reject_reason"] and json.loads(rows[0]["payload"])["MicrosoftClickId"] == "c"


def payload(row: dict) -> dict:
    assert row["reject_reason"] is None, row["reject_reason"]
    return json.loads(row["payload"])


def test_rows_of_one_order_become_one_conversion(shape):
    rows = shape("""SELECT * FROM (VALUES
        (TIMESTAMP '2026-10-01 10:05:00', 'clk1', 'o1', 10.25, 2, 'usd'),
        (TIMESTAMP '2026-10-01 10:00:00', NULL,   'o1', 4.50,  1, 'USD'),
        (TIMESTAMP '2026-10-01 11:00:00', 'clk2', 'o2', 3.00,  NULL, 'EUR'))
        v(timestamp, microsoft_click_id, order_id, price, quantity, currency)""")
    assert [r["event_key"] for r in rows] == ["Store Sale|order:o1", "Store Sale|order:o2"]
    first, second = payload(rows[0]), payload(rows[1])
    assert first == {"MicrosoftClickId": "clk1", "ConversionName": "Store Sale",
                     "ConversionTime": "2026-10-01T10:00:00Z", "ConversionValue": 25.0,
                     "ConversionCurrencyCode": "USD"}
    assert second["ConversionValue"] == 3.0  # quantity NULL counts as 1
    assert [r["source_rows"] for r in rows] == [2, 1]
    assert all(r["route"] is None for r in rows)


def test_value_column_wins_over_price_and_is_summed_per_order(shape):
    rows = shape("""SELECT * FROM (VALUES
        (TIMESTAMP '2026-10-01 10:00:00', 'c', 'o1', 99.0, 1, 10.0),
        (TIMESTAMP '2026-10-01 10:00:00', 'c', 'o1', 5.0, 2, NULL))
        v(timestamp, microsoft_click_id, order_id, price, quantity, value)""")
    assert payload(rows[0])["ConversionValue"] == 20.0  # 10 (value) + 5 x 2


def test_without_order_id_each_identity_and_time_is_one_conversion(shape):
    rows = shape("""SELECT * FROM (VALUES
        (TIMESTAMP '2026-10-01 10:00:00', 'a', 1.0),
        (TIMESTAMP '2026-10-01 10:00:00', 'a', 2.0),
        (TIMESTAMP '2026-10-01 10:00:01', 'a', 4.0),
        (TIMESTAMP '2026-10-01 10:00:00', 'b', 8.0))
        v(timestamp, microsoft_click_id, value)""")
    values = sorted(payload(r)["ConversionValue"] for r in rows)
    assert values == [3.0, 4.0, 8.0]
    assert len({r["event_key"] for r in rows}) == 3
    assert all(r["event_key"].startswith("Store Sale|row:") for r in rows)


def test_event_keys_are_stable_between_runs(shape):
    select = """SELECT TIMESTAMP '2026-10-01 10:00:00' AS timestamp, 'a' AS microsoft_click_id"""
    assert shape(select)[0]["event_key"] == shape(select)[0]["event_key"]


@pytest.mark.parametrize("expr, expected", [
    ("TIMESTAMP '2026-10-01 17:02:35.789'", "2026-10-01T17:02:35Z"),
    ("TIMESTAMPTZ '2026-10-01 19:02:35+02'", "2026-10-01T17:02:35Z"),
    ("1790874155", "2026-10-01T17:02:35Z"),
    ("1790874155.5::DOUBLE", "2026-10-01T17:02:35Z"),
    ("DATE '2026-10-01'", "2026-10-01T00:00:00Z"),
])
def test_conversion_time_is_utc_iso_whatever_the_column_type(shape, expr, expected):
    rows = shape(f"SELECT {expr} AS timestamp, 'c' AS microsoft_click_id")
    assert payload(rows[0])["ConversionTime"] == expected


def test_email_is_trimmed_lowercased_and_hashed(shape):
    digest = sha("foo@example.com")
    rows = shape(f"""SELECT * FROM (VALUES
        (TIMESTAMP '2026-10-01 10:00:00', 'o1', ' Foo@Example.COM '),
        (TIMESTAMP '2026-10-01 10:00:00', 'o2', '{digest.upper()}'),
        (TIMESTAMP '2026-10-01 10:00:00', 'o3', 'not-an-email'))
        v(timestamp, order_id, email)""")
    assert payload(rows[0])["HashedEmailAddress"] == digest
    assert payload(rows[1])["HashedEmailAddress"] == digest  # already hashed: kept, lowercased
    assert rows[2]["reject_reason"].startswith("nothing to match on")
    assert "MicrosoftClickId" not in payload(rows[0])


@pytest.mark.parametrize("phone, country_setting, expected", [
    ("(212) 555-0100", "US", "+12125550100"),
    ("1-212-555-0100", "US", "+12125550100"),
    ("+44 20 7946 0958", "US", "+442079460958"),
    ("0044 20 7946 0958", "US", "+442079460958"),
    ("020 7946 0958", "GB", "+442079460958"),
])
def test_phone_is_e164_with_plus_then_hashed(shape, phone, country_setting, expected):
    rows = shape(f"SELECT TIMESTAMP '2026-10-01 10:00:00' AS timestamp, '{phone}' AS phone",
                 default_country=country_setting)
    assert payload(rows[0])["HashedPhoneNumber"] == sha(expected)


def test_country_column_picks_the_calling_code(shape):
    rows = shape("""SELECT * FROM (VALUES
        (TIMESTAMP '2026-10-01 10:00:00', 'o1', '020 7946 0958', 'United Kingdom'),
        (TIMESTAMP '2026-10-01 10:00:00', 'o2', '(212) 555-0100', NULL))
        v(timestamp, order_id, phone, country)""")
    assert payload(rows[0])["HashedPhoneNumber"] == sha("+442079460958")
    assert payload(rows[1])["HashedPhoneNumber"] == sha("+12125550100")  # default_country


def test_raw_pii_never_leaves_duckdb(shape):
    rows = shape("""SELECT TIMESTAMP '2026-10-01 10:00:00' AS timestamp,
        'jane.doe@example.com' AS email, '+1 212 555 0199' AS phone""")
    text = json.dumps(rows)
    assert "jane" not in text and "555" not in text
    assert set(payload(rows[0])) <= FIELDS


@pytest.mark.parametrize("ts, reason", [
    ("TIMESTAMP '2026-07-03 11:59:59'", "is more than 90 days before the run"),
    ("TIMESTAMP '2026-10-02 12:00:01'", "is in the future"),
    ("NULL::TIMESTAMP", "timestamp is missing"),
])
def test_rejects_times_microsoft_refuses(shape, ts, reason):
    rows = shape(f"SELECT {ts} AS timestamp, 'c' AS microsoft_click_id")
    assert reason in rows[0]["reject_reason"]


def test_accepts_the_edges_of_the_window(shape):
    rows = shape("""SELECT * FROM (VALUES
        (TIMESTAMP '2026-07-04 12:00:00', 'a'), (TIMESTAMP '2026-10-02 12:00:00', 'b'))
        v(timestamp, microsoft_click_id)""")
    assert [r["reject_reason"] for r in rows] == [None, None]


@pytest.mark.parametrize("columns, reason", [
    ("'ZZZ' AS currency, 1.0 AS value", "currency ZZZ is not in Microsoft's conversion currency"),
    ("'NPR' AS currency, 1.0 AS value",  # active in ISO 4217, absent from Microsoft's list
     "currency NPR is not in Microsoft's conversion currency list (100 codes"),
    ("'try' AS currency, 1.0 AS value", "currency TRY is not in Microsoft's conversion currency "
     "list, which has TRL instead"),
    ("'VES' AS currency, 1.0 AS value", "which has VEF instead"),
    # a long value is never quoted: only three-letter codes appear in a reason
    ("'jane@example.com' AS currency, 1.0 AS value",
     "the currency is not a three-letter code such as USD"),
    ("-5.0 AS value", "value is negative"),
    ("'infinity'::DOUBLE AS value", "value is not a finite number"),
])
def test_rejects_bad_values_and_currencies(shape, columns, reason):
    rows = shape(f"SELECT TIMESTAMP '2026-10-01 10:00:00' AS timestamp, 'c' AS "
                 f"microsoft_click_id, {columns}")
    assert reason in rows[0]["reject_reason"]


def test_an_order_mixing_currencies_is_rejected(shape):
    rows = shape("""SELECT * FROM (VALUES
        (TIMESTAMP '2026-10-01 10:00:00', 'c', 'o1', 1.0, 'USD'),
        (TIMESTAMP '2026-10-01 10:00:00', 'c', 'o1', 1.0, 'EUR'))
        v(timestamp, microsoft_click_id, order_id, value, currency)""")
    assert rows[0]["reject_reason"] == "the rows of this order have different currencies"


@pytest.mark.parametrize("code", ["TRL", "VEF", "HRK", "usd"])
def test_microsofts_own_codes_are_sent(shape, code):
    rows = shape(f"SELECT TIMESTAMP '2026-10-01 10:00:00' AS timestamp, 'c' AS "
                 f"microsoft_click_id, '{code}' AS currency, 1.0 AS value")
    assert payload(rows[0])["ConversionCurrencyCode"] == code.upper()


def test_default_currency_from_settings(shape):
    rows = shape("SELECT TIMESTAMP '2026-10-01 10:00:00' AS timestamp, 'c' AS microsoft_click_id,"
                 " 12.5 AS value", currency="eur")
    assert payload(rows[0])["ConversionCurrencyCode"] == "EUR"


def test_conversion_name_column_overrides_the_setting(shape):
    rows = shape("""SELECT * FROM (VALUES
        (TIMESTAMP '2026-10-01 10:00:00', 'c', 'o1', 'Phone Order'),
        (TIMESTAMP '2026-10-01 10:00:00', 'c', 'o2', NULL))
        v(timestamp, microsoft_click_id, order_id, conversion_name)""")
    assert [payload(r)["ConversionName"] for r in rows] == ["Phone Order", "Store Sale"]
    assert rows[0]["event_key"] == "Phone Order|order:o1"


def test_no_goal_name_at_all_is_rejected(shape):
    rows = shape("SELECT TIMESTAMP '2026-10-01 10:00:00' AS timestamp, 'c' AS microsoft_click_id",
                 conversion_name=None)
    assert "set conversion_name in [settings]" in rows[0]["reject_reason"]


def test_absent_values_are_omitted_and_attribution_is_passed(shape):
    rows = shape("""SELECT TIMESTAMP '2026-10-01 10:00:00' AS timestamp, 'c' AS microsoft_click_id,
        0.4 AS external_attribution_credit, 'Linear' AS external_attribution_model""")
    body = payload(rows[0])
    assert body == {"MicrosoftClickId": "c", "ConversionName": "Store Sale",
                    "ConversionTime": "2026-10-01T10:00:00Z", "ExternalAttributionCredit": 0.4,
                    "ExternalAttributionModel": "Linear"}
    assert "null" not in rows[0]["payload"]
