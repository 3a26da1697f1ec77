"""Unicode text rules for customer information, as DuckDB SQL expressions: lowercasing
exactly as Python's ``str.lower()`` does (what Meta's SDK hashes), and digits of every
script read as ASCII digits.

The SQL stays ASCII (duckdb's Python client re-indexes non-ASCII query text character by
character): code points are written as RE2 escapes (``\\x{3a3}``) or ``chr(n)``. ASCII
values (most rows) take DuckDB's plain ``lower()``; only values with other characters
(their byte length differs from their character length) take the longer paths.

The tables below are generated from Python's own functions over every code point, and
``tests/meta/test_meta_unicode.py`` compares them with Python's functions over the whole
range again: a Python or DuckDB upgrade that moves them fails there.
"""

from __future__ import annotations

from connector.kit.sql import let

#: The code points whose ``str.lower()`` DuckDB's ``lower()`` does not give: every other
#: code point lowercases alike in both (U+0130, Turkish dotted capital I, becomes ``i``
#: followed by U+0307 COMBINING DOT ABOVE in Python, a plain ``i`` in DuckDB).
LOWER_DIFFERENCES = {0x130: (0x69, 0x307)}

#: Python's "cased" letters, for the final sigma (the letters that make a following
#: capital sigma final when nothing cased comes after it), as an RE2 class body: the
#: upper, lower and title case letters, plus the letters Unicode calls Other_Lowercase or
#: Other_Uppercase (ordinal indicators, Roman numerals, circled and squared letters).
CASED = ("\\p{Lu}\\p{Ll}\\p{Lt}\\x{aa}\\x{ba}\\x{2160}-\\x{217f}\\x{24b6}-\\x{24e9}"
         "\\x{1f130}-\\x{1f149}\\x{1f150}-\\x{1f169}\\x{1f170}-\\x{1f189}")
#: Python's "case-ignorable" characters (skipped when looking for a cased letter around a
#: sigma), as an RE2 class body: marks, format characters, modifier letters and symbols,
#: and the apostrophes, periods and colons of Unicode's word-break MidLetter, MidNumLet
#: and Single_Quote classes.
CASE_IGNORABLE = ("\\p{Mn}\\p{Me}\\p{Cf}\\p{Lm}\\p{Sk}\\x{27}\\x{2e}\\x{3a}\\x{b7}\\x{387}"
                  "\\x{55f}\\x{5f4}\\x{2018}\\x{2019}\\x{2024}\\x{2027}\\x{fe13}\\x{fe52}"
                  "\\x{fe55}\\x{ff07}\\x{ff0e}\\x{ff1a}")
#: GREEK CAPITAL LETTER SIGMA and GREEK SMALL LETTER FINAL SIGMA.
SIGMA, FINAL_SIGMA = 0x3A3, 0x3C2

#: The zero of each script's decimal digits (Unicode category Nd, ``unicodedata.decimal``):
#: each is followed by its 1 to 9, so digit ``d`` of a script is ``zero + d``.
DIGIT_ZEROS = (
    0x660, 0x6F0, 0x7C0, 0x966, 0x9E6, 0xA66, 0xAE6, 0xB66, 0xBE6, 0xC66, 0xCE6, 0xD66,
    0xDE6, 0xE50, 0xED0, 0xF20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80,
    0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50,
    0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450,
    0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0,
    0x16A60, 0x16AC0, 0x16B50, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140,
    0x1E2F0, 0x1E950, 0x1FBF0)
#: FULLWIDTH PLUS SIGN, read as ``+`` with the digits (a phone's international prefix).
FULLWIDTH_PLUS = 0xFF0B


def is_ascii(expr: str) -> str:
    """True when the text ``expr`` is ASCII: its bytes are its characters."""
    return f"(strlen({expr}) = length({expr}))"


def _chars(code_points: tuple[int, ...]) -> str:
    return " || ".join(f"chr({c})" for c in code_points)


def lower(expr: str) -> str:
    """``expr`` (text) lowercased exactly as Python's ``str.lower()`` does.

    DuckDB's ``lower()`` maps code point by code point; Python differs on the
    :data:`LOWER_DIFFERENCES` (replaced first) and on the capital sigma, which Python
    lowercases to the final sigma ``ς`` when a cased letter precedes it and none follows
    (case-ignorable characters skipped on both sides), as in ``ΟΔΥΣΣΕΑΣ`` -> ``οδυσσεας``
    ending in ``ς``. The rest goes through ``lower()``."""
    return let(expr, _lower, "lower")


def _replaced(text: str) -> str:
    """``text`` with the :data:`LOWER_DIFFERENCES` replaced by what Python makes of them."""
    for code_point, lowered in LOWER_DIFFERENCES.items():
        text = f"replace({text}, chr({code_point}), {_chars(lowered)})"
    return text


def _final_sigma(text: str) -> str:
    """``text`` lowercased with each final capital sigma made ``ς``."""
    cased, ignorable = f"[{CASED}]", f"[{CASE_IGNORABLE}]"
    final = (f"'({cased})({ignorable}*)\\x{{{SIGMA:x}}}({ignorable}*)"
             f"([^{CASED}{CASE_IGNORABLE}]|$)'")
    return (f"lower(regexp_replace({_replaced(text)}, {final}, "
            f"'\\1\\2' || chr({FINAL_SIGMA}) || '\\3\\4', 'g'))")


def _lower(text: str) -> str:
    # The final sigma's pattern (Unicode classes) is costly to compile, and DuckDB compiles
    # each pattern of a lambda's body every time it runs the lambda over a chunk of rows:
    # ``lower`` is itself a lambda (``let``), often inside others. So that branch is a
    # lambda of its own, which DuckDB runs only for the rows that hold a capital sigma.
    return (f"CASE WHEN {is_ascii(text)} THEN lower({text}) "
            f"WHEN contains({text}, chr({SIGMA})) THEN {let(text, _final_sigma, 'sigma')} "
            f"ELSE lower({_replaced(text)}) END")


def ascii_digits(expr: str) -> str:
    """``expr`` (text) with the decimal digits of every script (Arabic-Indic ``٢``,
    full-width ``２``, Devanagari ``२``, ...) as ASCII digits, and a full-width plus as
    ``+``; other characters kept."""
    return let(expr, lambda t: f"CASE WHEN {is_ascii(t)} THEN {t} "
                               f"ELSE translate({t}, {_DIGITS}, {_ASCII_DIGITS}) END", "digits")


# One flat concat() of constant chr() calls: folded once per query by DuckDB, and each a
# literal character on Spark (whose chr() only knows n % 256). Built once, at import.
_DIGITS = "concat(" + ", ".join(
    f"chr({c})" for c in [z + d for z in DIGIT_ZEROS for d in range(10)] + [FULLWIDTH_PLUS]) + ")"
_ASCII_DIGITS = f"repeat('0123456789', {len(DIGIT_ZEROS)}) || '+'"
