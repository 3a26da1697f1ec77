"""Every kind of mess the demo promises is in the data, in a believable proportion."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.engines.warehouse import Engine

C = "FROM Customer_360 WHERE "
U = "FROM Unified_Itemized_Transactions WHERE "

# (kind, WHERE clause) -> at least one row must match.
MESS = [
    ("email mixed case", C + "email = trim(email) AND email <> lower(email)"),
    ("email space-padded", C + "email <> trim(email)"),
    ("email n/a", C + "email = 'n/a'"),
    ("email without domain", C + r"regexp_full_match(email, '[a-z]+@')"),
    ("email empty", C + "email = ''"),
    ("email NULL", C + "email IS NULL"),
    ("phone (650) 555-1212", C + r"regexp_full_match(phone, '\(\d{3}\) 555-\d{4}')"),
    ("phone 650.555.1212", C + r"regexp_full_match(phone, '\d{3}\.555\.\d{4}')"),
    ("phone 650-555-1212", C + r"regexp_full_match(phone, '\d{3}-555-\d{4}')"),
    ("phone +1 650 555 1212", C + r"regexp_full_match(phone, '\+1 \d{3} 555 \d{4}')"),
    ("phone 001 650 555 1212", C + r"regexp_full_match(phone, '001 \d{3} 555 \d{4}')"),
    ("phone 6505551212", C + r"regexp_full_match(phone, '\d{3}555\d{4}')"),
    ("phone 16505551212", C + r"regexp_full_match(phone, '1\d{3}555\d{4}')"),
    ("phone extension", C + r"regexp_full_match(phone, '\d{3}-555-\d{4} x\d+')"),
    ("phone UK +44", C + r"regexp_full_match(phone, '\+44 7700 900\d{3}')"),
    ("phone UK national", C + r"regexp_full_match(phone, '07700 900\d{3}')"),
    ("phone blank", C + "phone = ''"),
    ("phone NULL", C + "phone IS NULL"),
    ("no contact data", C + "coalesce(email, '') = '' AND coalesce(phone, '') = ''"),
    ("given name accented", C + "given_name = 'José'"),
    ("given name hyphenated", C + "given_name = 'Anne-Marie'"),
    ("surname apostrophe", C + "surname = 'O''Brien'"),
    ("surname padded upper", C + "surname = '  MÜLLER '"),
    ("name lower case", C + "given_name = lower(given_name) AND given_name = trim(given_name)"),
    ("name NULL", C + "given_name IS NULL OR surname IS NULL"),
    ("birthdate NULL", C + "birthdate IS NULL"),
    ("birthdate placeholder", C + "birthdate = DATE '1900-01-01'"),
    ("gender M", C + "gender = 'M'"),
    ("gender F", C + "gender = 'F'"),
    ("gender male", C + "gender = 'male'"),
    ("gender Female", C + "gender = 'Female'"),
    ("gender x", C + "gender = 'x'"),
    ("gender NULL", C + "gender IS NULL"),
    ("city accented", C + "city = 'San José'"),
    ("city upper", C + "city = upper(city) AND city <> 'NYC' AND city <> 'LA'"),
    ("state CA", C + "state = 'CA'"),
    ("state California", C + "state = 'California'"),
    ("state calif.", C + "state = 'calif.'"),
    ("state ny", C + "state = 'ny'"),
    ("postal ZIP+4", C + r"regexp_full_match(postal, '\d{5}-\d{4}')"),
    ("postal ZIP", C + r"regexp_full_match(postal, '\d{5}')"),
    ("postal lost leading zero", C + r"regexp_full_match(postal, '\d{4}')"),
    ("postal Canada", C + "postal = 'K1A 0B6'"),
    ("country US", C + "country = 'US'"),
    ("country USA", C + "country = 'USA'"),
    ("country United States", C + "country = 'United States'"),
    ("country us", C + "country = 'us'"),
    ("country Canada", C + "country = 'Canada'"),
    ("country CA", C + "country = 'CA'"),
    ("country GB", C + "country = 'GB'"),
    ("guest order", U + "amperity_id NOT IN (SELECT amperity_id FROM Customer_360)"),
    ("return: negative quantity", U + "item_quantity < 0 AND item_revenue < 0"),
    ("return: negative quantity, flag NULL", U + "item_quantity < 0 AND is_return IS NULL"),
    ("return: flagged positive row", U + "is_return AND item_quantity > 0"),
    ("cancellation", U + "is_cancellation"),
    ("flags false", U + "NOT is_cancellation AND NOT is_return"),
    ("flags NULL", U + "is_cancellation IS NULL AND is_return IS NULL"),
    ("zero quantity", U + "item_quantity = 0"),
    ("online without store", U + "purchase_channel = 'online' AND store_id IS NULL"),
]


@pytest.mark.parametrize(("kind", "where"), MESS, ids=[kind for kind, _ in MESS])
def test_mess_is_present(fixed_engine: Engine, kind: str, where: str) -> None:
    [(count,)] = fixed_engine.rows(f"SELECT count(*) {where}")
    assert count >= 1, f"no {kind} in the demo data"


def test_future_orders_from_clock_skew(fixed_engine: Engine, today: dt.date) -> None:
    [(orders,)] = fixed_engine.rows(
        "SELECT count(DISTINCT order_id) FROM Unified_Itemized_Transactions "
        "WHERE order_datetime >= ?", [dt.datetime.combine(today, dt.time())])
    assert 10 <= orders <= 100


@pytest.mark.parametrize(("kind", "share_sql", "low", "high"), [
    ("guest orders", "avg((c.amperity_id IS NULL)::INT) FROM (SELECT DISTINCT order_id, "
     "amperity_id FROM Unified_Itemized_Transactions) u "
     "LEFT JOIN Customer_360 c USING (amperity_id)", 0.05, 0.09),
    ("customers without contact data",
     "avg((coalesce(email, '') = '' AND coalesce(phone, '') = '')::INT) FROM Customer_360",
     0.05, 0.10),
    ("mixed-case or padded emails",
     "avg((email <> lower(trim(email)))::INT) FROM Customer_360", 0.10, 0.30),
    ("non-ISO countries", "avg((country NOT IN ('US', 'CA', 'GB'))::INT) FROM Customer_360",
     0.30, 0.60),
    ("return rows", "avg((item_quantity < 0)::INT) FROM Unified_Itemized_Transactions",
     0.01, 0.04),
])
def test_mess_proportions(fixed_engine: Engine, kind: str, share_sql: str, low: float,
                          high: float) -> None:
    [(share,)] = fixed_engine.rows(f"SELECT {share_sql}")
    assert low <= share <= high, f"{kind}: {share:.3f}"
