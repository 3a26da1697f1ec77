"""Customer-information normalization and hashing, as DuckDB SQL expressions.

Destinations build their shaping SQL from these functions: each takes SQL
expression text and returns SQL expression text, so normalization runs
vectorized inside DuckDB, never row by row in Python.

The rules follow Meta's customer-information-parameters page, and agree with
Meta's Python SDK (``facebook-business``) wherever the two agree:

==============  ==============================================================
field           rule
==============  ==============================================================
email           trim, lowercase (as Python's ``str.lower()``: :mod:`pii_unicode`),
                must look like ``local@domain.tld``
phone           digits only (of any script), extension cut off, spreadsheet numbers
                (``2125550100.0``, ``2.1255501E9``) read as integers,
                international prefix (``+``/``00``) honoured,
                trunk zeros dropped, country calling code added from the row's
                country or a default country; 7 to 15 digits (E.164)
first/last name trim, lowercase, punctuation removed (letters in any script kept)
city            trim, lowercase, digits, Unicode spaces and punctuation removed
state           US and Canadian names to their 2-letter codes; else lowercase
                letters only
postal          lowercase, no spaces; US rows and ZIP-shaped codes without a
                country: the first 5 digits; else the part before a dash
country         ISO 3166 alpha-2, lowercase, also from names and alpha-3 codes
birthdate       ``YYYYMMDD`` from DATE/TIMESTAMP, common text formats and ISO
                date-times; impossible and future dates dropped
gender          ``m`` or ``f`` from m/male/man, f/female/woman; else dropped
external_id     trimmed
==============  ==============================================================

Blank values become NULL and are never hashed. A value that already is a
SHA-256 hex digest (64 hex characters) passes through, lowercased.
"""

from __future__ import annotations

from connector.kit.pii_lookups import calling_code as calling_code
from connector.kit.pii_lookups import countries_cte as countries_cte
from connector.kit.pii_lookups import currencies
from connector.kit.pii_lookups import states_cte as states_cte
from connector.kit.pii_unicode import ascii_digits, lower
from connector.kit.sql import let

HEX64 = "'[0-9a-fA-F]{64}'"
#: Every character Python's ``str.strip()`` removes (what Meta's SDK trims): tabs,
#: newlines, no-break and other Unicode spaces. DuckDB's one-argument ``trim``
#: removes only the space character. Written out rather than found by testing all
#: 1.1M code points with ``str.isspace()``, which every import of the kit paid for;
#: ``tests/meta/test_meta_normalize_text.py`` checks that the two agree.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
              "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
              "\u2028\u2029\u202f\u205f\u3000")
# Written as RE2 escapes: the SQL text stays ASCII (duckdb's Python client re-indexes
# non-ASCII query text character by character), and a regular expression is as fast as
# trim() here, where trim(x, <many characters>) is much slower (docs/benchmarks.md).
_WS_CHARS = "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE)
_WS = "[" + _WS_CHARS + "]"
_STRIP = f"'^{_WS}+|{_WS}+$'"


def text(expr: str) -> str:
    """``expr`` as text with surrounding whitespace removed, NULL when blank."""
    return f"NULLIF(regexp_replace(CAST({expr} AS VARCHAR), {_STRIP}, '', 'g'), '')"


def sha256(expr: str) -> str:
    """SHA-256 hex of ``expr`` (NULL stays NULL)."""
    return f"sha256({expr})"


def hashed(raw: str, normalized: str) -> str:
    """The hash of ``normalized``, unless ``raw`` already is a SHA-256 digest.

    :param raw: the column as it came from the query.
    :param normalized: the normalized expression (see the functions below).
    """
    return (f"CASE WHEN regexp_full_match({text(raw)}, {HEX64}) THEN lower({text(raw)}) "
            f"ELSE sha256({normalized}) END")


def email(expr: str) -> str:
    """Trimmed, lowercased email, NULL unless it looks like ``a@b.c``."""
    return let(lower(text(expr)), lambda v: (
        f"CASE WHEN regexp_full_match({v}, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+') THEN {v} END"),
        "email")


def phone(expr: str, calling_code: str | None = None) -> str:
    """E.164 digits without ``+``, or NULL.

    :param calling_code: SQL expression for the country calling code to add to
        national numbers (for example ``'1'``, or a column from :func:`countries_cte`);
        None adds nothing.
    """
    value = let(phone_text(expr), lambda raw: let(
        f"regexp_replace({raw}, '[^0-9]', '', 'g')",
        lambda digits: _phone_digits(raw, digits, calling_code), "phone_digits"), "phone")
    return f"NULLIF(regexp_extract({value}, '^[0-9]{{7,15}}$'), '')"


def _phone_digits(raw: str, digits: str, calling_code: str | None) -> str:
    """:func:`phone`'s number, of any length: ``raw`` is the phone's text and ``digits``
    its digits."""
    intl = f"regexp_matches({raw}, '^\\s*(\\+|00)')"
    stripped = f"ltrim({digits}, '0')"
    if calling_code is None:
        national = stripped
    else:
        cc = f"CAST({calling_code} AS VARCHAR)"
        national = (
            f"CASE WHEN {cc} IS NULL THEN {stripped} "
            # NANP: ten digits need the 1; eleven starting with 1 already have it.
            f"WHEN {cc} = '1' THEN CASE WHEN length({stripped}) = 10 THEN '1' || {stripped} "
            f"ELSE {stripped} END "
            f"WHEN starts_with({digits}, {cc}) AND NOT starts_with({digits}, '0') "
            f"AND length({digits}) >= length({cc}) + 8 THEN {digits} "
            f"ELSE {cc} || {stripped} END")
    return f"CASE WHEN {intl} THEN {stripped} ELSE {national} END"


#: An extension at the end of a phone number: ``ext. 7``, ``extension 7``, ``x42``, ``#42``,
#: ``;ext=42`` (RFC 3966), in any case.
PHONE_EXTENSION = "'(?i)\\s*[,;]?\\s*(ext(ension|n)?|x|#|;ext=)\\s*[.:=]?\\s*[0-9]+\\s*$'"


def phone_text(expr: str) -> str:
    """A phone number's text as :func:`phone` reads it: trimmed, digits of any script as
    ASCII digits, an extension (:data:`PHONE_EXTENSION`) cut off, and a number written as a
    spreadsheet writes it read as the integer it is (``2125550100.0`` and
    ``2.1255501E9`` -> ``2125550100``; an exponent form that is not a whole number of
    at most 15 digits gives NULL)."""
    cut = f"regexp_replace({ascii_digits(text(expr))}, {PHONE_EXTENSION}, '', 'g')"
    return let(cut, _spreadsheet_number, "phone_text")


def _spreadsheet_number(cut: str) -> str:
    number = f"TRY_CAST({cut} AS DOUBLE)"
    return (f"CASE WHEN regexp_full_match({cut}, '\\+?[0-9]+\\.0+') "
            f"THEN regexp_replace({cut}, '\\.0+$', '', 'g') "
            f"WHEN regexp_full_match({cut}, '[0-9]+(\\.[0-9]+)?[eE]\\+?[0-9]+') "
            f"THEN CASE WHEN {number} = floor({number}) AND {number} < 1e15 "
            f"THEN CAST(CAST({number} AS BIGINT) AS VARCHAR) END "
            f"ELSE {cut} END")


def name(expr: str) -> str:
    """First or last name: lowercase, punctuation removed, inner spaces kept single."""
    v = lower(text(expr))
    cleaned = f"trim(regexp_replace(regexp_replace({v}, '[\\pP\\pS]', '', 'g'), '\\s+', ' ', 'g'))"
    return f"NULLIF({cleaned}, '')"


def city(expr: str) -> str:
    """City: lowercase, no digits, spaces (any Unicode space: ``New\u00a0York`` ->
    ``newyork``) or punctuation (``Menlo Park`` -> ``menlopark``)."""
    v = lower(text(expr))
    return f"NULLIF(regexp_replace({v}, '[0-9{_WS_CHARS}\\pP\\pS]', '', 'g'), '')"


def country_key(expr: str) -> str:
    """The lookup key for :func:`countries_cte`: lowercase letters only."""
    return f"NULLIF(regexp_replace(lower({text(expr)}), '[^a-z]', '', 'g'), '')"


def state(expr: str, alias: str = "states") -> str:
    """State: looked up in :func:`states_cte` (joined as ``alias`` on
    :func:`state_key`), else lowercase letters only."""
    return f"coalesce({alias}.code, {state_key(expr)})"


def state_key(expr: str) -> str:
    return f"NULLIF(regexp_replace({lower(text(expr))}, '[^\\pL]', '', 'g'), '')"


def postal(expr: str, country: str, numeric: bool = False) -> str:
    """Postal code; ``country`` is the row's normalized alpha-2 expression (or NULL).

    Lowercase, every Unicode space removed. The US rule (the first 5 digits) applies to
    US rows and to rows without a country whose code is shaped like a US ZIP (5 digits,
    ZIP+4 with or without its dash); any other code keeps the part before a dash
    (``110 001`` without a country stays ``110001``).

    ``numeric``: the column holds numbers, which lost their leading zeros in the
    warehouse (ZIP ``02134`` stored as ``2134``, ZIP+4 ``02134-1234`` as ``21341234``). A
    US row's code gets them back: up to 5 digits is a ZIP, 6 to 9 digits a ZIP+4."""
    return let(f"regexp_replace({lower(text(expr))}, '{_WS}', '', 'g')",
               lambda v: _postal(v, country, numeric), "postal")


def _postal(v: str, country: str, numeric: bool) -> str:
    if numeric:
        digits = f"regexp_full_match({v}, '[0-9]{{1,9}}')"
        padded = f"lpad({v}, CASE WHEN length({v}) <= 5 THEN 5 ELSE 9 END, '0')"
        return let(f"CASE WHEN {country} = 'us' AND {digits} THEN {padded} ELSE {v} END",
                   lambda padded_v: _postal(padded_v, country, False), "postal_padded")
    us = f"regexp_extract({v}, '^([0-9]{{5}})', 1)"
    zip_shaped = f"regexp_full_match({v}, '[0-9]{{5}}(-?[0-9]{{4}})?')"
    other = f"split_part({v}, '-', 1)"
    return (f"NULLIF(CASE WHEN coalesce({country} = 'us', {zip_shaped}) AND {us} <> '' "
            f"THEN {us} ELSE {other} END, '')")


#: A text date-time whose date part is the birthdate: ``1988-07-04T00:00:00``,
#: ``1988-07-04 00:00``, with fractions of a second, ``Z`` or an offset (the date as
#: written, never moved to another time zone).
DATE_TIME = ("'^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})[Tt ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
             " ?([Zz]|(UTC|GMT)?[+-][0-9]{1,2}(:?[0-9]{2})?| ?UTC| ?GMT)?$'")
#: The text formats of a birthdate, in order: the first that reads the text wins. Month
#: first before day first: ``07/04/1988`` is July 4; ``24/07/1988`` reads only day first.
BIRTHDATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%m-%d-%Y", "%d-%m-%Y",
                     "%d.%m.%Y", "%Y.%m.%d", "%Y%m%d", "%B %d, %Y", "%b %d, %Y", "%d %B %Y",
                     "%d %b %Y")


def birthdate(expr: str, duckdb_type: str, latest: str | None = None) -> str:
    """``YYYYMMDD`` from a DATE/TIMESTAMP column or a text date (:data:`BIRTHDATE_FORMATS`,
    or the date of a :data:`DATE_TIME`); NULL for a date that does not exist (February
    30, month 13, all zeros), before 1900, or after ``latest`` (an SQL DATE expression:
    the event's date, so that no birthdate is in the future), or after 2100 without it."""
    t = duckdb_type.upper()
    if t.startswith(("DATE", "TIMESTAMP")):
        value = f"CAST({expr} AS DATE)"
    else:
        v = text(expr)
        date_part = f"NULLIF(regexp_extract({v}, {DATE_TIME}, 1), '')"
        formats = ", ".join(f"'{f}'" for f in BIRTHDATE_FORMATS)
        value = f"CAST(try_strptime(coalesce({date_part}, {v}), [{formats}]) AS DATE)"
    last = f"{value} <= {latest}" if latest is not None else f"year({value}) <= 2100"
    return (f"CASE WHEN year({value}) >= 1900 AND {last} "
            f"THEN strftime({value}, '%Y%m%d') END")


def gender(expr: str) -> str:
    """``m`` or ``f``, else NULL."""
    v = f"lower({text(expr)})"
    return (f"CASE WHEN {v} IN ('m', 'male', 'man') THEN 'm' "
            f"WHEN {v} IN ('f', 'female', 'woman') THEN 'f' END")


def currency_ok(expr: str) -> str:
    """True when ``expr`` is an active ISO 4217 code (any case)."""
    codes = ", ".join(f"'{c}'" for c in currencies())
    return f"(upper({text(expr)}) IN ({codes}))"


# -- Google's formatting guide (the Data Manager API) --------------------------------------
# Separate functions, not options on the ones above: Google's rules differ from Meta's on
# emails (every whitespace removed; gmail.com dots and +suffix), phones (a leading "+"),
# names (honorifics and generational suffixes dropped) and postal codes (plain text).
# Where the rules are the same, these build on the functions above.

#: The domains whose local part Google normalizes further (dots and "+suffix" removed).
GOOGLE_MAIL_DOMAINS = ("gmail.com", "googlemail.com")
#: Titles dropped from the start of a given name, and suffixes from the end of a family
#: name ("no prefixes", "no suffixes" in Google's formatting guide), after punctuation is
#: removed (``Mrs. Jane`` is ``mrs jane`` by then).
NAME_PREFIXES = ("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame")
NAME_SUFFIXES = ("jr", "sr", "ii", "iii", "iv", "phd", "md", "esq")


def google_email(expr: str) -> str:
    """Email per Google's formatting guide: lowercase, every whitespace character removed
    (leading, trailing and inner), and for ``gmail.com`` / ``googlemail.com`` only, the
    dots and any ``+suffix`` removed from the local part. NULL unless it looks like
    ``a@b.c``.

    >>> "gmail.com" in google_email("e")
    True
    """
    return let(lower(f"regexp_replace(CAST({expr} AS VARCHAR), '{_WS}', '', 'g')"),
               _google_email, "email")


def _google_email(v: str) -> str:
    local, domain = f"split_part({v}, '@', 1)", f"split_part({v}, '@', 2)"
    mail = ", ".join(f"'{d}'" for d in GOOGLE_MAIL_DOMAINS)
    google = f"replace(regexp_replace({local}, '\\+.*$', '', 'g'), '.', '') || '@' || {domain}"
    normalized = f"CASE WHEN {domain} IN ({mail}) THEN {google} ELSE {v} END"
    return (f"CASE WHEN regexp_full_match({v}, '[^@]+@[^@]+\\.[^@]+') "
            f"AND regexp_full_match({normalized}, '[^@]+@[^@]+') THEN {normalized} END")


def e164(expr: str, calling_code: str | None = None) -> str:
    """Phone in E.164 with its ``+`` (``+16505551212``): :func:`phone`'s digits, which
    honour an international prefix and add ``calling_code`` to national numbers."""
    return f"('+' || {phone(expr, calling_code)})"


def given_name(expr: str) -> str:
    """A given name per Google's guide: :func:`name`, without a leading title
    (:data:`NAME_PREFIXES`: ``Mrs. Jane`` -> ``jane``), unless the title is all there is."""
    titles = "|".join(NAME_PREFIXES)
    return f"NULLIF(regexp_replace({name(expr)}, '^({titles}) (.)', '\\2', 'g'), '')"


def family_name(expr: str) -> str:
    """A family name per Google's guide: :func:`name`, without a trailing generational or
    academic suffix (:data:`NAME_SUFFIXES`: ``Smith Jr.`` -> ``smith``)."""
    suffixes = "|".join(NAME_SUFFIXES)
    return f"NULLIF(regexp_replace({name(expr)}, '(.) ({suffixes})$', '\\1', 'g'), '')"


def region_code(alpha2: str) -> str:
    """ISO 3166-1 alpha-2 in upper case (Google's ``regionCode``), from a lower-case
    alpha-2 expression such as ``countries_cte``'s ``alpha2``."""
    return f"upper({alpha2})"


def plain_postal(expr: str, country: str, numeric: bool = False) -> str:
    """A postal code as Google takes it, in plain text: US codes as 5 digits (from ZIP+4,
    and with leading zeros restored for ``numeric`` columns, as :func:`postal` does; NULL
    when there are no 5 digits to take), any
    other country's code trimmed, its inner spaces kept single, in upper case (``SW1A 1AA``).
    ``country``: the row's lower-case alpha-2 expression."""
    other = f"upper(regexp_replace({text(expr)}, '{_WS}+', ' ', 'g'))"
    us = f"NULLIF(regexp_extract({postal(expr, country, numeric)}, '^([0-9]{{5}})$', 1), '')"
    return f"CASE WHEN {country} = 'us' THEN {us} ELSE {other} END"


def base64_digest(hex_digest: str) -> str:
    """A hex SHA-256 digest as standard Base64 with padding (Google's ``BASE64`` encoding)."""
    return f"to_base64(unhex({hex_digest}))"
