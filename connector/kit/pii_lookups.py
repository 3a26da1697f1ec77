"""The lookup tables that :mod:`connector.kit.pii`'s rules read: the active ISO 4217
currencies, the countries (by code and by name) with their phone calling codes, and the
US states and Canadian provinces. Built once from ``pycountry`` and ``phonenumbers``;
``pii`` re-exports what destinations use (``pii.countries_cte``, ``pii.states_cte``,
``pii.calling_code``)."""

from __future__ import annotations

import functools

import phonenumbers
import pycountry


@functools.cache
def currencies() -> tuple[str, ...]:
    """Active ISO 4217 alphabetic codes."""
    return tuple(sorted(c.alpha_3 for c in pycountry.currencies))


@functools.cache
def _country_rows() -> tuple[tuple[str, str, str], ...]:
    rows: dict[str, tuple[str, str]] = {}

    def key(s: str) -> str:
        return "".join(ch for ch in s.lower() if "a" <= ch <= "z")

    for c in pycountry.countries:
        alpha2 = c.alpha_2.lower()
        code = phonenumbers.country_code_for_region(c.alpha_2)
        calling = str(code) if code else ""
        for label in (c.alpha_2, c.alpha_3, c.name, getattr(c, "official_name", ""),
                      getattr(c, "common_name", "")):
            k = key(label)
            if k and k not in rows:
                rows[k] = (alpha2, calling)
    for alias, alpha2 in (("uk", "gb"), ("greatbritain", "gb"), ("england", "gb"),
                          ("america", "us"), ("unitedstatesofamerica", "us"),
                          ("southkorea", "kr"), ("russia", "ru"), ("vietnam", "vn")):
        rows.setdefault(alias, rows[alpha2])
    return tuple((k, a, cc) for k, (a, cc) in sorted(rows.items()))


def countries_cte(name: str = "countries") -> str:
    """A CTE ``name(key, alpha2, calling_code)`` mapping
    :func:`~connector.kit.pii.country_key` values (codes and names) to ISO alpha-2 and
    the phone calling code."""
    values = ", ".join(f"('{k}', '{a}', {repr(cc) if cc else 'NULL'})"
                       for k, a, cc in _country_rows())
    return f"{name}(key, alpha2, calling_code) AS (VALUES {values})"


@functools.cache
def _state_rows() -> tuple[tuple[str, str], ...]:
    rows: dict[str, str] = {}
    for country in ("US", "CA"):
        for sub in pycountry.subdivisions.get(country_code=country):
            code = sub.code.split("-")[1].lower()
            for label in (code, sub.name):
                k = "".join(ch for ch in label.lower() if ch.isalpha())
                rows.setdefault(k, code)
    for alias, code in (("calif", "ca"), ("cal", "ca"), ("wash", "wa"), ("mass", "ma"),
                        ("penn", "pa"), ("fla", "fl"), ("tex", "tx"), ("ill", "il")):
        rows.setdefault(alias, code)
    return tuple(sorted(rows.items()))


def states_cte(name: str = "states") -> str:
    """A CTE ``name(key, code)`` mapping US states and Canadian provinces (codes,
    names, common abbreviations) to their lowercase 2-letter codes."""
    values = ", ".join(f"('{k}', '{c}')" for k, c in _state_rows())
    return f"{name}(key, code) AS (VALUES {values})"


def calling_code(region: str) -> str | None:
    """The phone calling code for an ISO alpha-2 region (``"US"`` -> ``"1"``)."""
    code = phonenumbers.country_code_for_region(region.upper())
    return str(code) if code else None
