"""The kit's customer-information rules read their input once.

The rules are SQL text built from each other: a rule that repeats its input repeats every
rule inside it, and the copies multiply into a query of megabytes that takes DuckDB
seconds to plan on each run (and Spark's driver more heap than it has). ``let`` names a
value once instead.
"""

from __future__ import annotations

import duckdb
import pytest

from connector.kit import pii, pii_unicode
from connector.kit.sql import let

COLUMN = "src.customer_value"

RULES = {
    "email": lambda c: pii.email(c),
    "google_email": lambda c: pii.google_email(c),
    "phone": lambda c: pii.phone(c, "countries.calling_code"),
    "e164": lambda c: pii.e164(c, "'1'"),
    "phone_text": lambda c: pii.phone_text(c),
    "name": lambda c: pii.name(c),
    "given_name": lambda c: pii.given_name(c),
    "family_name": lambda c: pii.family_name(c),
    "city": lambda c: pii.city(c),
    "state_key": lambda c: pii.state_key(c),
    "postal": lambda c: pii.postal(c, "countries.alpha2"),
    "postal_numeric": lambda c: pii.postal(c, "countries.alpha2", numeric=True),
    "plain_postal": lambda c: pii.plain_postal(c, "countries.alpha2"),
    "lower": lambda c: pii_unicode.lower(c),
    "ascii_digits": lambda c: pii_unicode.ascii_digits(c),
}


#: Rules that read their input once in each of two branches (US codes and the others).
TWICE = {"plain_postal"}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_reads_its_input_once(rule: str) -> None:
    assert RULES[rule](COLUMN).count(COLUMN) == (2 if rule in TWICE else 1)


def test_the_phone_rule_holds_one_copy_of_the_digit_table() -> None:
    sql = pii.e164(COLUMN, "countries.calling_code")
    assert sql.count("translate(") == 1
    assert len(sql) < 20_000


def test_let_computes_once_what_its_body_uses_twice() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('ab'), (NULL)) v(x)")
    sql = let("upper(x)", lambda v: f"{v} || '-' || lower({v})", "up")
    assert con.execute(f"SELECT {sql} FROM t ORDER BY x").fetchall() == [("AB-ab",), (None,)]
    nested = let("x", lambda a: let(f"{a} || 'c'", lambda b: f"{b} || {a}", "b"), "a")
    assert con.execute(f"SELECT {nested} FROM t ORDER BY x").fetchall() == [("abcab",),
                                                                           (None,)]
