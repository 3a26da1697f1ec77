"""The Marketing Report's columns, their types, and the conversion of parsed rows
into a typed :class:`pyarrow.Table`.

Types follow the documented ``MarketingReportData`` row (seed
``000_4960bdcff07768eb.txt``): ``VARCHAR``/``NVARCHAR`` become strings, ``MONEY``
becomes ``decimal128(19, 4)`` (SQL Server's MONEY is 19 digits with 4 decimals),
``INT`` becomes ``int32``. Every format is first parsed into rows of raw values
(strings, or JSON numbers read as :class:`decimal.Decimal`), then converted here, so
that JSON, JsonDataTable, XML and CSV give identical tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import pyarrow as pa

Kind = Literal["text", "money", "int"]

#: The report's columns in the documented order, with their kind and SQL type.
COLUMNS: tuple[tuple[str, Kind, str], ...] = (
    ("Email", "text", "VARCHAR(200)"),
    ("Phone", "text", "VARCHAR(200)"),
    ("FirstName", "text", "VARCHAR(50)"),
    ("LastName", "text", "VARCHAR(50)"),
    ("City", "text", "VARCHAR(50)"),
    ("Province", "text", "VARCHAR(50)"),
    ("PostalCode", "text", "VARCHAR(15)"),
    ("Country", "text", "VARCHAR(50)"),
    ("Category", "text", "NVARCHAR(MAX)"),
    ("ProductLibraryID", "text", "VARCHAR(50)"),
    ("UnitPrice", "money", "MONEY"),
    ("ListPrice", "money", "MONEY"),
    ("Quantity", "int", "INT"),
    ("ProductLibraryName", "text", "NVARCHAR(MAX)"),
    ("ProductLibraryCanonicalName", "text", "NVARCHAR(MAX)"),
)
NAMES: tuple[str, ...] = tuple(name for name, _, _ in COLUMNS)
KINDS: dict[str, Kind] = {name: kind for name, kind, _ in COLUMNS}

MONEY = pa.decimal128(19, 4)
_QUANTUM = Decimal("0.0001")
_ARROW: dict[Kind, pa.DataType] = {"text": pa.string(), "money": MONEY, "int": pa.int32()}

#: Columns offramp adds to every row: which company and day window it came from,
#: and when it was pulled.
ADDED: tuple[tuple[str, pa.DataType], ...] = (
    ("company_id", pa.int64()),
    ("window_start", pa.timestamp("us")),
    ("window_stop", pa.timestamp("us")),
    ("pulled_at", pa.timestamp("us", tz="UTC")),
)

#: The warehouse table's schema: the report's columns, then the added ones.
SCHEMA = pa.schema([pa.field(n, _ARROW[k]) for n, k, _ in COLUMNS]
                   + [pa.field(n, t) for n, t in ADDED])


class BadValue(ValueError):
    """A value that does not fit its column; the message names the column, never the value."""


def convert(name: str, value: Any) -> Any:
    """One raw value (string, number, ``None``) as the Python value of its column.

    Empty strings become ``None`` in every format, so a blank CSV field, an empty
    XML element and a JSON ``""`` or ``null`` all read the same.

    >>> convert("UnitPrice", "250"), convert("UnitPrice", Decimal("299.99"))
    (Decimal('250.0000'), Decimal('299.9900'))
    >>> convert("Quantity", "2"), convert("Email", "")
    (2, None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadValue(f"{name} is a boolean, not a {KINDS.get(name, 'text')} value")
    text = value if isinstance(value, str) else str(value)
    kind = KINDS.get(name, "text")
    if kind == "text":
        return text if text != "" else None
    text = text.strip()
    if text == "":
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadValue(f"{name} is not a number") from None
    if not number.is_finite():
        raise BadValue(f"{name} is not a finite number")
    if kind == "money":
        number = number.quantize(_QUANTUM)
        if len(number.as_tuple().digits) > 19:
            raise BadValue(f"{name} does not fit MONEY (19 digits, 4 decimals)")
        return number
    if number != number.to_integral_value():
        raise BadValue(f"{name} is not a whole number")
    whole = int(number)
    if not -(2**31) <= whole < 2**31:
        raise BadValue(f"{name} does not fit INT")
    return whole


@dataclass
class Typed:
    """Rows converted to a table, and the rows that could not be: (row number, reason)."""

    table: pa.Table
    rejected: list[tuple[int, str]] = field(default_factory=list)
    unknown_columns: set[str] = field(default_factory=set)


def to_table(rows: Iterable[Mapping[str, Any]], *, company_id: int, window_start: dt.datetime,
             window_stop: dt.datetime, pulled_at: dt.datetime) -> Typed:
    """Convert parsed rows (column name -> raw value) into a table with :data:`SCHEMA`.

    A row with a value that does not fit its column is left out and listed in
    ``rejected`` with its 1-based number and the column at fault. Columns the
    schema does not know are ignored and listed in ``unknown_columns``. A
    missing column reads as NULL. Zero rows give a zero-row table with the full
    schema (so an empty day still replaces its window).
    """
    columns: dict[str, list[Any]] = {name: [] for name in NAMES}
    rejected: list[tuple[int, str]] = []
    unknown: set[str] = set()
    count = 0
    for number, row in enumerate(rows, start=1):
        unknown.update(k for k in row if k not in KINDS)
        try:
            values = [convert(name, row.get(name)) for name in NAMES]
        except BadValue as exc:
            rejected.append((number, str(exc)))
            continue
        for name, value in zip(NAMES, values, strict=True):
            columns[name].append(value)
        count += 1
    arrays = [pa.array(columns[name], type=_ARROW[KINDS[name]]) for name in NAMES]
    added = {
        "company_id": pa.array([company_id] * count, type=pa.int64()),
        "window_start": pa.array([window_start] * count, type=pa.timestamp("us")),
        "window_stop": pa.array([window_stop] * count, type=pa.timestamp("us")),
        "pulled_at": pa.array([pulled_at] * count, type=pa.timestamp("us", tz="UTC")),
    }
    table = pa.Table.from_arrays(arrays + [added[n] for n, _ in ADDED], schema=SCHEMA)
    return Typed(table, rejected, unknown)
