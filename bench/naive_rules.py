"""The naive baseline's rules, field by field: what ``bench/naive.py`` normalizes and
hashes with ``re``/``str``/``hashlib``, following ``connector/kit/pii.py`` and the Meta
destination for the columns of the benchmark's job (the row-by-row pipeline is in
``bench/naive.py``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import unicodedata
from json.encoder import encode_basestring as _string  # type: ignore[attr-defined]
from typing import Any

from connector.kit import pii_lookups

RETURN = "quantity <= 0 (return or cancellation): line item not sent"
WS = "\t\n\f\r "  # what RE2's \s (DuckDB's regexes) matches
EMAIL = re.compile(r"[^@\t\n\f\r ]+@[^@\t\n\f\r ]+\.[^@\t\n\f\r ]+")
HEX64 = re.compile(r"[0-9a-fA-F]{64}")
NON_DIGIT = re.compile(r"[^0-9]")
INTL = re.compile(r"^[\t\n\f\r ]*(\+|00)")
SPACES = re.compile(r"[\t\n\f\r ]+")
US_ZIP = re.compile(r"^([0-9]{5})")
COUNTRIES = {key: (alpha2, code or None) for key, alpha2, code in pii_lookups._country_rows()}
STATES = dict(pii_lookups._state_rows())
CURRENCIES = set(pii_lookups.currencies())
#: Where an event's ``contents`` go, replaced in its JSON text by the items' JSON text.
#: Its JSON (``"\u0000contents"``) appears nowhere else: no text of the data holds a NUL.
CONTENTS = "\u0000contents"
CONTENTS_JSON = json.dumps(CONTENTS)


# -- normalization, field by field (connector/kit/pii.py) -------------------------------------
def text(value: Any) -> str | None:
    """Text without surrounding whitespace (what ``str.strip()`` removes), None if blank."""
    if value is None:
        return None
    s = str(value).strip()
    return s or None


#: The customer columns, as stored: every row of an order must carry the same ones.
CUSTOMER = ("email", "phone", "given_name", "surname", "birthdate", "gender", "city", "state",
            "postal", "country", "external_id")


def sha256(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def hashed(raw: Any, normalized: str | None) -> str | None:
    t = text(raw)
    if t is not None and HEX64.fullmatch(t):
        return t.lower()
    return sha256(normalized)


def email(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    t = t.lower()
    return t if EMAIL.fullmatch(t) else None


def phone(value: Any, cc: str | None) -> str | None:
    raw = text(value)
    if raw is None:
        return None
    digits = NON_DIGIT.sub("", raw)
    stripped = digits.lstrip("0")
    if INTL.match(raw):
        result = stripped
    elif cc is None:
        result = stripped
    elif cc == "1":
        result = "1" + stripped if len(stripped) == 10 else stripped
    elif digits.startswith(cc) and not digits.startswith("0") and len(digits) >= len(cc) + 8:
        result = digits
    else:
        result = cc + stripped
    return result if 7 <= len(result) <= 15 else None


def _drop(s: str, extra: str = "") -> str:
    return "".join(ch for ch in s
                   if unicodedata.category(ch)[0] not in "PS" and ch not in extra)


def name(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    cleaned = SPACES.sub(" ", _drop(t.lower())).strip(" ")
    return cleaned or None


def city(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    return _drop(t.lower(), "0123456789" + WS) or None


def state_key(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    return "".join(ch for ch in t.lower() if ch.isalpha()) or None


def country_key(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    return "".join(ch for ch in t.lower() if "a" <= ch <= "z") or None


def postal(value: Any, country: str | None) -> str | None:
    t = text(value)
    if t is None:
        return None
    v = "".join(ch for ch in t.lower() if ch not in WS)
    m = US_ZIP.match(v)
    us = m.group(1) if m else ""
    result = us if (country or "us") == "us" and us != "" else v.split("-")[0]
    return result or None


def birthdate(value: Any) -> str | None:
    if not isinstance(value, dt.date):
        return None  # the benchmark's column is a DATE
    return value.strftime("%Y%m%d") if 1900 <= value.year <= 2100 else None


def gender(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    t = t.lower()
    return "m" if t in ("m", "male", "man") else "f" if t in ("f", "female", "woman") else None


def number(x: float) -> int | float:
    """An integral number as an int (JSON ``2``, not ``2.0``)."""
    return int(x) if x == math.floor(x) and abs(x) < 1e15 else x


def item_json(r: dict[str, Any]) -> str:
    """One item of ``contents`` as compact JSON text, in UTF-8 like DuckDB's."""
    text = (f'{{"id":{_string(r["product_id"])},"quantity":{number(r["quantity"])!r},'
            f'"item_price":{round(r["price"], 2)!r}')
    if r["brand"] is not None:
        text += ',"brand":' + _string(r["brand"])
    if r["category"] is not None:
        text += ',"category":' + _string(r["category"])
    return text + "}"
