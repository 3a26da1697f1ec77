"""Rows of the Marketing Report CSV that have more fields than the header.

The API's guide says "any commas in the response are surrounded by quotes", yet
its own sample row is not quoted::

    ...,H0H0H0,Canada,Activations,Smart Phones,M5592-E12435,250,299.99,1,...

``Category`` is ``Activations,Smart Phones``, so the row has 16 fields for 15
columns. Reading it positionally would shift every column after ``Category`` by
one (the product id would land in ``ProductLibraryID``'s neighbour, prices in the
wrong columns...). offramp never shifts silently. The rule:

1. An extra field comes from an unquoted comma inside a column that may hold one:
   :data:`COMMA_COLUMNS` (names, city, country, category, product names). The
   other columns (Email, Phone, Province, PostalCode, ProductLibraryID, the prices,
   Quantity) never contain commas.
2. Every way of giving the ``k`` extra fields back to those columns is a
   *reading* of the row. A reading *fits* when each column whose value differs
   between readings still looks like what it holds (:data:`CHECKS`): an email
   has an ``@`` and no spaces, a phone is digits and punctuation, a province has
   no digits, a postal code has a digit, a country is a country name or ISO
   code, a product library id has a letter, prices are numbers, Quantity is a
   whole number. Columns that read the
   same in every reading prove nothing and are not checked.
3. The row is repaired only when exactly one reading fits and it gives every
   extra field to ``Category``. Otherwise it is rejected with a reason naming
   the columns in doubt (never the values, which are personal data).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement

from plugins.rq.countries import is_country

#: Columns whose values may contain a comma.
COMMA_COLUMNS: frozenset[str] = frozenset({
    "FirstName", "LastName", "City", "Country", "Category",
    "ProductLibraryName", "ProductLibraryCanonicalName",
})
#: The column the rule repairs.
REPAIRABLE = "Category"
#: More extra fields than this in one row is rejected without trying.
MAX_EXTRA = 8

_EMAIL = re.compile(r"[^\s,@]+@[^\s,@]+")
_PHONE = re.compile(r"[0-9+().\- ]*[0-9][0-9+().\- ]*(?:(?:x|ext\.?) ?[0-9]+)?", re.IGNORECASE)
_PROVINCE = re.compile(r"[^\W\d_]+(?:[ .'\-]+[^\W\d_]+)*\.?")
_POSTAL = re.compile(r"(?=[A-Za-z0-9 \-]*[0-9])[A-Za-z0-9][A-Za-z0-9 \-]{1,11}")
_MONEY = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_INT = re.compile(r"-?[0-9]+")


def _blank_or(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: value.strip() == "" or pattern.fullmatch(value.strip()) is not None


#: What each column must look like (blank is always fine). Unlisted columns take any text.
CHECKS: dict[str, Callable[[str], bool]] = {
    "Email": _blank_or(_EMAIL),
    "Phone": _blank_or(_PHONE),
    "Province": _blank_or(_PROVINCE),
    "PostalCode": _blank_or(_POSTAL),
    "Country": lambda value: value.strip() == "" or is_country(value),
    # Library ids look like ``M5592-E12435`` (seed): no comma, at least one letter. This
    # keeps a price written "1,250" from passing for a shifted id.
    "ProductLibraryID": lambda value: value.strip() == "" or (
        "," not in value and any(c.isalpha() for c in value)),
    "UnitPrice": _blank_or(_MONEY),
    "ListPrice": _blank_or(_MONEY),
    "Quantity": _blank_or(_INT),
}


@dataclass(frozen=True)
class Fix:
    """The outcome for one CSV row: its values by column (None when rejected),
    whether it was repaired, and the reason when rejected."""

    values: dict[str, str] | None
    repaired: bool = False
    reason: str | None = None


def _fits(column: str, value: str) -> bool:
    check = CHECKS.get(column)
    return check is None or check(value)


def _reading(header: Sequence[str], fields: Sequence[str], extra_at: Sequence[int]) -> list[str]:
    """The row's values when column ``i`` takes one more field for each ``i`` in ``extra_at``."""
    values: list[str] = []
    pos = 0
    for i in range(len(header)):
        width = 1 + extra_at.count(i)
        values.append(",".join(fields[pos:pos + width]))
        pos += width
    return values


def _names(header: Sequence[str], indexes: set[int]) -> str:
    return " or ".join(sorted({header[i] for i in indexes}))


def fix_row(header: Sequence[str], fields: Sequence[str]) -> Fix:
    """Apply the rule above to one row of ``fields`` read under ``header``.

    >>> head = ["Email", "Country", "Category", "ProductLibraryID", "UnitPrice"]
    >>> fix_row(head, ["a@b.ca", "Canada", "Activations", "Smart Phones", "M1", "250"]).values
    {'Email': 'a@b.ca', 'Country': 'Canada', 'Category': 'Activations,Smart Phones', \
'ProductLibraryID': 'M1', 'UnitPrice': '250'}
    """
    extra = len(fields) - len(header)
    if extra == 0:
        return Fix(dict(zip(header, fields, strict=True)))
    if extra < 0:
        return Fix(None, reason=f"has {len(fields)} fields but the header has {len(header)} "
                                "columns: rejected rather than guessed")
    slots = [i for i, name in enumerate(header) if name in COMMA_COLUMNS]
    if extra > MAX_EXTRA or not slots:
        return Fix(None, reason=f"has {extra} field(s) more than the header's {len(header)} "
                                "columns (unquoted commas) and cannot be read safely: rejected")
    readings = [(combo, _reading(header, fields, combo))
                for combo in combinations_with_replacement(slots, extra)]
    varying = [i for i in range(len(header)) if len({r[1][i] for r in readings}) > 1]
    fitting = [r for r in readings if all(_fits(header[i], r[1][i]) for i in varying)]
    lead = f"has {extra} field(s) more than the header's {len(header)} columns (unquoted commas)"
    if not fitting:
        return Fix(None, reason=f"{lead}; no way of giving them back to "
                                f"{_names(header, set(slots))} keeps the other columns "
                                "well-formed: rejected rather than shifted")
    if len(fitting) > 1:
        owners = {i for combo, _ in fitting for i in combo}
        return Fix(None, reason=f"{lead}; they could belong to {_names(header, owners)}: "
                                "rejected rather than guessed")
    combo, values = fitting[0]
    owners = set(combo)
    if {header[i] for i in owners} != {REPAIRABLE}:
        return Fix(None, reason=f"{lead}; they can only belong to {_names(header, owners)}, "
                                f"and only {REPAIRABLE} is repaired: rejected")
    return Fix(dict(zip(header, values, strict=True)), repaired=True)
