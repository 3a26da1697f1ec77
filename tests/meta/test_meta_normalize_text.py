"""Customer information written as text the way warehouses and spreadsheets write it:
birthdates as date-times, dotted or day-first; Unicode spaces inside cities, states and
postal codes; phone numbers as spreadsheet numbers, with extensions or in the digits of
other scripts; postal codes without a country. Each class is covered broadly, against
Python's own functions (``datetime``, ``str.isspace``, ``unicodedata.decimal``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import unicodedata
from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from connector.kit import pii, pii_unicode
from tests.meta.conftest import row, sent, shape_rows

RNG = random.Random(24)
#: Birthdates spread over the years pii accepts, leap days and month ends included.
DATES = sorted({dt.date(1900, 1, 1) + dt.timedelta(days=RNG.randrange(0, 46000))
                for _ in range(60)} | {dt.date(1988, 2, 29), dt.date(2000, 2, 29),
                                       dt.date(1999, 12, 31), dt.date(1970, 1, 1)})


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _all(con: duckdb.DuckDBPyConnection, expression: str, values: list[Any],
         cast: str = "VARCHAR") -> list[Any]:
    """``expression`` over column ``v`` (``values`` cast to ``cast``), in order, with pii's
    lookup tables joined when it reads them."""
    t = pa.table({"i": list(range(len(values))), "raw": values})  # noqa: F841 (read by SQL)
    joins = ""
    if "states." in expression:
        joins = f"LEFT JOIN states ON states.key = {pii.state_key('s.v')}"
    sql = (f"WITH {pii.states_cte('states')} SELECT {expression} FROM "
           f"(SELECT i, CAST(raw AS {cast}) AS v FROM t) AS s {joins} ORDER BY i")
    return [r[0] for r in con.execute(sql).fetchall()]


def _birthdates(con, values: list[str], latest: str | None = None) -> list[str | None]:
    return _all(con, pii.birthdate("v", "VARCHAR", latest), values)


@pytest.mark.parametrize("suffix", ["T00:00:00", " 00:00:00", "T00:00:00Z", "T13:45:10.123Z",
                                    "T00:00:00+02:00", "T23:59:59-0500", " 08:30", "T00:00",
                                    "T00:00:00.000000+00:00", " 00:00:00 UTC"])
def test_iso_date_times_give_their_date(con, suffix: str) -> None:
    """The date as written, whatever the time and offset (a birthdate is a calendar date)."""
    got = _birthdates(con, [d.isoformat() + suffix for d in DATES])
    assert got == [d.strftime("%Y%m%d") for d in DATES]


@pytest.mark.parametrize("fmt", ["%Y.%m.%d", "%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d",
                                 "%B %d, %Y", "%d %b %Y"])
def test_unambiguous_formats_give_the_date(con, fmt: str) -> None:
    got = _birthdates(con, [d.strftime(fmt) for d in DATES])
    assert got == [d.strftime("%Y%m%d") for d in DATES]


@pytest.mark.parametrize("fmt", ["%d/%m/%Y", "%d-%m-%Y"])
def test_day_first_dates_readable_one_way_only(con, fmt: str) -> None:
    """A day after the 12th cannot be a month: ``24/07/1988`` is July 24."""
    days = [d.replace(day=max(d.day, 13)) if d.month != 2 else d.replace(day=13) for d in DATES]
    assert _birthdates(con, [d.strftime(fmt) for d in days]) == [
        d.strftime("%Y%m%d") for d in days]


@pytest.mark.parametrize(("value", "want"), [
    ("07/04/1988", "19880704"), ("07-04-1988", "19880704"), ("1/2/1990", "19900102"),
    ("24/07/1988", "19880724"), ("24-07-1988", "19880724"), ("1988.07.04", "19880704"),
    ("1988-07-04T00:00:00", "19880704"), ("1988-07-04 00:00:00", "19880704"),
    ("1988-07-04T00:00:00Z", "19880704"), ("1988-07-04T22:00:00-05:00", "19880704"),
])
def test_documented_examples(con, value: str, want: str) -> None:
    """Ambiguous day/month dates read month first (``07/04/1988`` is July 4), as documented."""
    assert _birthdates(con, [value]) == [want]


def _impossible() -> list[tuple[int, int, int]]:
    """(year, month, day) that no calendar has: each month's day after its last, month
    13 and 0, day 0, February 29 of years without it, all zeros."""
    cases = [(1990, m, d) for m in range(1, 13) for d in (29, 30, 31, 32)
             if not _exists(1990, m, d)]
    return [*cases, (1990, 13, 1), (1990, 0, 10), (1990, 6, 0), (1900, 2, 29), (2001, 2, 29),
            (0, 0, 0)]


def _exists(y: int, m: int, d: int) -> bool:
    try:
        dt.date(y, m, d)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("fmt", ["{y:04d}-{m:02d}-{d:02d}", "{m:02d}/{d:02d}/{y:04d}",
                                 "{d:02d}/{m:02d}/{y:04d}", "{y:04d}{m:02d}{d:02d}",
                                 "{d:02d}.{m:02d}.{y:04d}", "{y:04d}.{m:02d}.{d:02d}",
                                 "{y:04d}-{m:02d}-{d:02d}T00:00:00Z", "{d:02d}-{m:02d}-{y:04d}"])
def test_impossible_dates_are_dropped(con, fmt: str) -> None:
    """Dates no calendar has; with day and month in either order (slashes and dashes
    after the day or the month), the reading with day and month swapped must not exist
    either (``13/01/1990`` is January 13, not an impossible date)."""
    swappable = fmt.startswith(("{m", "{d"))
    values = [fmt.format(y=y, m=m, d=d) for y, m, d in _impossible()
              if not (swappable and _exists(y, d, m))]
    assert len(values) > 20
    assert _birthdates(con, values) == [None] * len(values)


def test_future_birthdates_are_dropped(con) -> None:
    latest = "DATE '2026-03-15'"
    assert _birthdates(con, ["2026-03-15", "2026-03-14T23:59:59Z"], latest) == [
        "20260315", "20260314"]
    later = [dt.date(2026, 3, 15) + dt.timedelta(days=days) for days in (1, 2, 40, 400, 4000)]
    values = [v for d in later for v in (d.isoformat(), d.strftime("%m/%d/%Y"), f"{d}T00:00:00Z")]
    assert _birthdates(con, values, latest) == [None] * len(values)
    dates = _all(con, pii.birthdate("v", "DATE", latest), ["2026-03-16", "1988-07-04"],
                 cast="DATE")
    assert dates == [None, "19880704"]


EVENT_TIME = dt.datetime(2026, 3, 14, 10, 0, tzinfo=dt.UTC)


def test_a_birthdate_after_the_event_is_left_out_of_the_event(tmp_path) -> None:
    """The event of 2026-03-14 does not carry a birthdate of 2026-03-15 (the run's clock is
    later still): a birthdate is never after the event."""
    events = shape_rows(tmp_path, [
        row("o-future", birthdate="2026-03-15", timestamp=EVENT_TIME),
        row("o-born", birthdate="1988-07-04T00:00:00Z", email="b@example.com",
            timestamp=EVENT_TIME)])
    assert "db" not in sent(events, "o-future")["user_data"]
    assert sent(events, "o-born")["user_data"]["db"] == pii_sha("19880704")


def pii_sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# -- Unicode spaces inside city, state and postal values ------------------------------------
SPACES = list(pii.WHITESPACE)


def test_whitespace_is_what_python_strips() -> None:
    """The written-out set is exactly the characters ``str.isspace()`` knows, in order."""
    every = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
    assert pii.WHITESPACE == every


@pytest.mark.parametrize(("expression", "value", "want"), [
    (pii.city("v"), "New{}York", "newyork"),
    (pii.city("v"), "{}San{}Jos\u00e9{}", "sanjos\u00e9"),
    (pii.state_key("v"), "New{}York", "newyork"),
    (pii.state("v", "states"), "New{}York", "ny"),
    (pii.state("v", "states"), "British{}Columbia", "bc"),
    (pii.postal("v", "'gb'"), "SW1A{}1AA", "sw1a1aa"),
    (pii.postal("v", "'us'"), "94025{}1234", "94025"),
    (pii.postal("v", "NULL"), "110{}001", "110001"),
    (pii.postal("v", "'ca'"), "K1A{}0B1", "k1a0b1"),
])
def test_every_unicode_space_inside_is_removed(con, expression: str, value: str,
                                               want: str) -> None:
    """Every character Python's ``str.isspace()`` knows, inside the value as at its ends."""
    values = [value.format(space, space, space) for space in SPACES]
    assert _all(con, expression, values) == [want] * len(SPACES)


# -- phone numbers written as text -----------------------------------------------------------
NUMBERS = [RNG.randrange(2012000000, 9899999999) for _ in range(40)]


def _phones(con, values: list[str]) -> list[str | None]:
    return _all(con, pii.phone("v", "'1'"), values)


def test_spreadsheet_whole_numbers_read_as_integers(con) -> None:
    """``2125550100.0``, ``2125550100.00`` and exponent forms (``2.1255501E9``, any
    precision that keeps every digit, as spreadsheets write them) are the integer."""
    for n in NUMBERS:
        want = "1" + str(n)
        forms = [f"{n}.0", f"{n}.00", f"{float(n):.9E}", f"{float(n):.12e}",
                 f"{n / 10 ** 9}E9", f"{n / 10 ** 9}E+09", f"{n}.0 "]
        assert _phones(con, forms) == [want] * len(forms), forms


@pytest.mark.parametrize(("value", "want"), [
    ("2.1255E9", "12125500000"), ("2.12555012345E9", None), ("1.5E3", None), ("9.9E20", None),
    ("6.50555121E9", "16505551210"), ("4.42079460958E11", "442079460958"),
])
def test_exponent_forms_read_as_the_number_they_are(con, value: str, want: str | None) -> None:
    """An exponent form is the number it is: a whole number of at most 15 digits (then
    normalized as any phone number), or nothing; its digits are never run together."""
    assert _phones(con, [value]) == [want]


EXTENSIONS = [" ext. 7", " ext 7", " EXT.7", "ext7", " extension 123", " x42", "x42", " X 42",
              " #42", "#42", ";ext=42", " ext: 9", ", ext. 12", " extn 3"]
PHONES = ["212-555-0100", "(212) 555-0100", "+1 212 555 0100", "2125550100",
          "+44 20 7946 0958", "212.555.0100"]


def test_extensions_are_cut_off(con) -> None:
    """Every way of writing an extension, after every way of writing the number."""
    want = _phones(con, PHONES)
    assert None not in want
    got = _phones(con, [number + ext for ext in EXTENSIONS for number in PHONES])
    assert got == want * len(EXTENSIONS)


def test_digits_of_every_script_read_as_their_digits(con) -> None:
    numbers = ["+44 20 7946 0958", "(212) 555-0100", "0049 30 1234567", "650.555.1212 x7"]
    want = _phones(con, numbers)
    assert None not in want
    for zero in pii_unicode.DIGIT_ZEROS:
        others = ["".join(chr(zero + int(c)) if c.isdigit() else c for c in n) for n in numbers]
        for other, number in zip(others, numbers, strict=True):
            assert [unicodedata.decimal(c) for c in other if not c.isascii()] == [
                int(a) for a in number if a.isdigit()]
        assert _phones(con, others) == want, hex(zero)


def test_fullwidth_plus_is_an_international_prefix(con) -> None:
    assert _phones(con, ["\uff0b\uff14\uff14 20 7946 0958"]) == ["442079460958"]


# -- postal codes and the US rule ------------------------------------------------------------
@pytest.mark.parametrize(("value", "country", "want"), [
    ("110 001", "NULL", "110001"), ("560034", "NULL", "560034"), ("1234567", "NULL", "1234567"),
    ("94025", "NULL", "94025"), ("94025-1234", "NULL", "94025"), ("94025 1234", "NULL", "94025"),
    ("940251234", "NULL", "94025"), ("02134", "NULL", "02134"),
    ("100-0001", "NULL", "100"), ("SW1A 1AA", "NULL", "sw1a1aa"), ("2134", "NULL", "2134"),
    ("940251", "'us'", "94025"), ("110001", "'us'", "11000"), ("94025-1234", "'us'", "94025"),
    ("110 001", "'in'", "110001"), ("94025", "'de'", "94025"), ("100-0001", "'jp'", "100"),
])
def test_the_us_rule_applies_to_us_rows_and_zip_shapes(con, value: str, country: str,
                                                       want: str) -> None:
    assert _all(con, pii.postal("v", country), [value]) == [want]


@pytest.mark.parametrize(("value", "country", "want"), [
    (2134, "'us'", "02134"), (21341234, "'us'", "02134"), (110001, "NULL", "110001"),
    (94025, "NULL", "94025"), (940251234, "NULL", "94025"), (2134, "NULL", "2134"),
    (1067, "'de'", "1067"),
])
def test_numeric_postal_codes_get_zeros_back_only_in_the_us(con, value: int, country: str,
                                                            want: str) -> None:
    assert _all(con, pii.postal("v", country, numeric=True), [value], cast="BIGINT") == [want]


def test_six_digits_without_a_country_in_an_event(tmp_path) -> None:
    events = shape_rows(tmp_path, [row("o-in", postal="110 001")])
    assert sent(events, "o-in")["user_data"]["zp"] == pii_sha("110001")
