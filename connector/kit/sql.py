"""Writing values and names into DuckDB SQL text.

Destinations build their shaping SQL as text; every value and name that comes from a
job (a setting, a column name) goes in through these two functions, so that a quote
inside it can never end the literal or the identifier early.

>>> literal("O'Brien")
"'O''Brien'"
>>> identifier('my "odd" column')
'"my ""odd"" column"'
>>> literals(["a", "b'c"])
"'a', 'b''c'"
"""

from __future__ import annotations

from collections.abc import Iterable


def literal(value: str) -> str:
    """``value`` as a DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    """``name`` as a double-quoted DuckDB identifier (a column, table or view name)."""
    return '"' + name.replace('"', '""') + '"'


def literals(values: Iterable[str]) -> str:
    """Several string literals separated by commas, for ``IN (...)`` and ``VALUES``."""
    return ", ".join(literal(v) for v in values)
