"""Lowercasing and digits of every script (``connector.kit.pii_unicode``), compared with
Python's own functions over the whole Unicode range.

Meta's SDK hashes ``value.lower().strip()``: the kit's DuckDB ``lower`` must be
``str.lower()`` for every code point, alone and in the contexts where Python's result
depends on the neighbours (the Greek final sigma), and the tables the kit writes its SQL
from (cased, case-ignorable, digit zeros) must be the ones Python's behaviour implies.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator

import duckdb
import pyarrow as pa
import pytest

from connector.kit import pii, pii_unicode

SIGMA = "\u03a3"
#: Every code point Python knows (assigned in its Unicode database), surrogates aside.
KNOWN = [c for c in range(0x110000) if unicodedata.category(chr(c)) not in ("Cs", "Cn")]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _apply(con: duckdb.DuckDBPyConnection, expression: str, values: list[str]) -> list:
    """``expression`` over column ``v`` for each of ``values``, in order."""
    t = pa.table({"i": list(range(len(values))), "v": values})  # noqa: F841 (read by SQL)
    return [r[0] for r in con.execute(f"SELECT {expression} FROM t ORDER BY i").fetchall()]


def _mismatches(con: duckdb.DuckDBPyConnection, values: list[str]) -> list[tuple[str, str, str]]:
    got = _apply(con, pii_unicode.lower("v"), values)
    return [(v, g, v.lower()) for v, g in zip(values, got, strict=True) if g != v.lower()][:10]


def test_lower_is_python_lower_for_every_code_point(con) -> None:
    assert _mismatches(con, [chr(c) for c in KNOWN]) == []


@pytest.mark.parametrize("context", [
    "A{}" + SIGMA, "{}" + SIGMA, "A" + SIGMA + "{}", "A" + SIGMA + "{}B", "A{}" + SIGMA + "B",
    "{}{}" + SIGMA + " x",
])
def test_lower_is_python_lower_around_a_capital_sigma(con, context: str) -> None:
    """Every known code point before and after a capital sigma: the final-sigma rule
    reads which characters are cased and which are skipped."""
    values = [context.format(chr(c), chr(c)) for c in KNOWN]
    assert _mismatches(con, values) == []


@pytest.mark.parametrize("value", [
    "\u0130ZM\u0130R", "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u0391\u03a3", "\u03a3", "A\u03a3",
    "\u03a3\u03a3\u03a3", "\u0391\u03a3 \u0392\u03a3.", "\u0391\u03a3'\u03a3",
    "\u0391\u0301\u03a3\u0301", "\u03a3\u0391",
    "\u0130stanbul \u039f\u0394\u03a5\u03a3\u03a3\u0395\u0391\u03a3",
    "ABC", "Jane.Doe@Example.COM", "M\u00dcLLER", "\u1e9e", "\u01c5", "\u2160\u03a3",
])
def test_lower_examples(con, value: str) -> None:
    assert _apply(con, pii_unicode.lower("v"), [value]) == [value.lower()]


def test_lower_of_random_strings_is_python_lower(con) -> None:
    """Random strings of Greek, Turkish, Latin, marks, apostrophes, spaces and sigmas."""
    alphabet = ("\u03a3\u03c3\u03c2\u0391\u0392\u03b1\u0130\u0131Ii\u0307\u0301'. :-"
                "aB\u02b0\u00aa\u2160\u3042\u00ad\u2019\u0660")
    rng = random.Random(24)
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
              for _ in range(20000)]
    assert _mismatches(con, values) == []


def test_the_cased_and_ignorable_classes_are_pythons(con) -> None:
    """The kit's RE2 classes hold exactly the code points Python treats as cased (a
    following sigma is final) and as case-ignorable (skipped), among those it knows."""
    cased = {c for c in KNOWN if (chr(c) + SIGMA).lower()[-1] == "\u03c2"}
    ignorable = {c for c in KNOWN if c not in cased
                 and ("A" + chr(c) + SIGMA).lower()[-1] == "\u03c2"}
    values = [chr(c) for c in KNOWN]
    in_cased = _apply(con, f"regexp_full_match(v, '[{pii_unicode.CASED}]')", values)
    in_ignorable = _apply(con, f"regexp_full_match(v, '[{pii_unicode.CASE_IGNORABLE}]')",
                          values)
    assert {c for c, hit in zip(KNOWN, in_cased, strict=True) if hit} == cased
    # A letter both cased and ignorable (modifier letters) is skipped: ignorable wins.
    assert {c for c, hit in zip(KNOWN, in_ignorable, strict=True) if hit} == ignorable


def test_the_lower_differences_are_all_there_are(con) -> None:
    """DuckDB's plain lower() differs from Python's on the listed code points only."""
    values = [chr(c) for c in KNOWN]
    plain = _apply(con, "lower(v)", values)
    differ = {ord(v) for v, p in zip(values, plain, strict=True) if p != v.lower()}
    assert differ == set(pii_unicode.LOWER_DIFFERENCES)
    for c, lowered in pii_unicode.LOWER_DIFFERENCES.items():
        assert chr(c).lower() == "".join(map(chr, lowered))


def test_the_digit_zeros_are_every_script_of_decimal_digits() -> None:
    zeros = {c for c in KNOWN if unicodedata.category(chr(c)) == "Nd"
             and unicodedata.decimal(chr(c)) == 0}
    assert zeros - {0x30} == set(pii_unicode.DIGIT_ZEROS)
    for z in pii_unicode.DIGIT_ZEROS:
        assert [unicodedata.decimal(chr(z + d)) for d in range(10)] == list(range(10))


def test_every_decimal_digit_reads_as_its_ascii_digit(con) -> None:
    digits = [chr(c) for c in KNOWN if unicodedata.category(chr(c)) == "Nd"]
    got = _apply(con, pii_unicode.ascii_digits("v"), [f"+{d}-{d}x" for d in digits])
    want = [f"+{unicodedata.decimal(d)}-{unicodedata.decimal(d)}x" for d in digits]
    assert got == want


def test_other_characters_are_kept_by_ascii_digits(con) -> None:
    """Characters that are not decimal digits (numerals, letters, spaces) stay."""
    others = [chr(c) for c in KNOWN if unicodedata.category(chr(c)) != "Nd"
              and c != pii_unicode.FULLWIDTH_PLUS]
    assert _apply(con, pii_unicode.ascii_digits("v"), others) == others


IZMIR, ODYSSEAS = "\u0130ZM\u0130R", "\u039f\u0394\u03a5\u03a3\u03a3\u0395\u0391\u03a3"


@pytest.mark.parametrize(("expression", "value", "want"), [
    (pii.email("v"), f" {IZMIR}@{IZMIR}.COM ", f"{IZMIR}@{IZMIR}.com".lower()),
    (pii.email("v"), f"{ODYSSEAS}@mail.gr", f"{ODYSSEAS}@mail.gr".lower()),
    (pii.google_email("v"), f"{IZMIR}@{IZMIR}.COM", f"{IZMIR}@{IZMIR}.com".lower()),
    (pii.name("v"), ODYSSEAS, "\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03b1\u03c2"),
    (pii.name("v"), f"{IZMIR} {ODYSSEAS}", f"{IZMIR} {ODYSSEAS}".lower()),
    (pii.city("v"), f"{IZMIR}", "i\u0307zmi\u0307r"),
    (pii.city("v"), f"{ODYSSEAS}.", ODYSSEAS.lower()),
    # States keep letters only: the combining dot (a mark) goes.
    (pii.state_key("v"), IZMIR, "izmir"),
    (pii.state_key("v"), ODYSSEAS, ODYSSEAS.lower()),
])
def test_the_pii_fields_lowercase_as_python(con, expression: str, value: str, want: str) -> None:
    """Emails, names, cities and states lowercase Turkish and Greek capitals as Python:
    ``İ`` keeps its combining dot, a word-final capital sigma becomes ``ς``."""
    assert _apply(con, expression, [value]) == [want]
