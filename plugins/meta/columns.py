"""The job's columns as the Meta shaping reads them: by name in any case, as text for
identifiers (whole numbers without their ".0"), the order each row belongs to, and the
hashes that stand for a row's customer fields in the grouping by order."""

from __future__ import annotations

from connector.kit import pii

#: Customer fields read from the query, in order.
PROFILE = ("email", "phone", "given_name", "surname", "birthdate", "gender", "city", "state",
           "postal", "country", "external_id", "client_user_agent", "fbc", "fbp", "madid")


#: DuckDB types whose text has a fraction part ("42.0").
_FRACTIONAL = ("FLOAT", "DOUBLE", "REAL", "DECIMAL", "NUMERIC")


def _named(columns: dict[str, str], name: str) -> str | None:
    """The query's spelling of column ``name`` (matched in any case), or None."""
    return next((c for c in columns if c.lower() == name), None)


def column(columns: dict[str, str], name: str) -> str:
    """The query's column ``name`` (any case) of the row ``src``, or NULL."""
    named = _named(columns, name)
    return f'src."{named}"' if named is not None else "NULL"


def column_type(columns: dict[str, str], name: str, default: str = "") -> str:
    """The DuckDB type of column ``name`` (any case), upper case; ``default`` without it."""
    named = _named(columns, name)
    return columns[named].upper() if named is not None else default


def fractional(columns: dict[str, str], name: str) -> bool:
    return column_type(columns, name).startswith(_FRACTIONAL)


#: DuckDB types of whole numbers.
_INTEGRAL = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT", "UHUGEINT")


def numeric(columns: dict[str, str], name: str) -> bool:
    """Whether the column holds numbers (DuckDB's type names, as ``DESCRIBE`` gives them)."""
    return fractional(columns, name) or column_type(columns, name) in _INTEGRAL


def text_column(columns: dict[str, str], name: str) -> str:
    """An identifier column as text; whole numbers stored as DOUBLE or DECIMAL lose
    their ".0" (phone 6505551212.0 is 6505551212, order 42.0 is "42")."""
    expr = column(columns, name)
    if not fractional(columns, name):
        return expr
    return (f"CASE WHEN {expr} = floor({expr}) AND abs({expr}) < 1e18 "
            f"THEN CAST(CAST({expr} AS HUGEINT) AS VARCHAR) ELSE CAST({expr} AS VARCHAR) END")


def customer_hashes(columns: dict[str, str]) -> str:
    """Two 64-bit hashes of a row's customer fields (``customer``, ``customer_check``).

    The grouping by order keeps their smallest and largest values instead of the
    fields themselves (fixed-size state, a large part of the grouping's memory and CPU:
    docs/benchmarks.md), and finds each order's customer by them among the distinct
    customers. Two different customers with both hashes equal (two independent 64-bit
    hashes colliding at once) would give an order the other customer's fields."""
    values = [text_column(columns, name) for name in PROFILE]
    return (f"hash({', '.join(values)}) AS customer, "
            f"hash('offramp', {', '.join(reversed(values))}) AS customer_check")


def order_key(columns: dict[str, str]) -> str:
    """The order a row ``src`` belongs to, as the events are grouped by it."""
    return pii.text(text_column(columns, "order_id"))
