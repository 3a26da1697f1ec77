"""Column contracts: which columns a destination needs from a job's query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "number", "number_text", "integer", "timestamp", "date", "boolean",
               "any"]

#: DuckDB type names accepted for each kind. "timestamp" also takes epoch seconds.
_ACCEPTS: dict[str, tuple[str, ...]] = {
    "text": ("VARCHAR", "UUID", "ENUM"),
    "number": ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
               "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL"),
    # A number, or text holding one (CSV exports: '2', '3.0'): the destination reads the
    # text with TRY_CAST and rejects, per event, the rows whose text is not a number.
    "number_text": ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                    "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
                    "REAL", "VARCHAR"),
    "integer": ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                "UINTEGER", "UBIGINT", "UHUGEINT"),
    "timestamp": ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS",
                  "TIMESTAMP_NS", "DATE", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                  "UINTEGER", "UBIGINT", "DOUBLE", "DECIMAL"),
    "date": ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "VARCHAR"),
    "boolean": ("BOOLEAN",),
}
_DESCRIBE = {
    "text": "text", "number": "a number", "number_text": "a number (or text holding one)",
    "integer": "an integer",
    "timestamp": "a timestamp or epoch seconds", "date": "a date", "boolean": "a boolean",
}


@dataclass(frozen=True)
class Column:
    """One column of a contract: its name, the kind of value, what it is for."""

    name: str
    kind: Kind = "any"
    doc: str = ""

    def accepts(self, duckdb_type: str) -> bool:
        """True when a column of ``duckdb_type`` can feed this column.

        >>> Column("price", "number").accepts("DECIMAL(18,2)")
        True
        >>> Column("price", "number").accepts("VARCHAR")
        False
        """
        if self.kind == "any" or duckdb_type in ("NULL", '"NULL"'):
            return True
        base = duckdb_type.split("(")[0].strip().upper()
        return base in _ACCEPTS[self.kind] or (self.kind == "text" and base.startswith("ENUM"))

    def expects(self) -> str:
        return _DESCRIBE.get(self.kind, "any value")


@dataclass(frozen=True)
class Contract:
    """What a destination needs from a query.

    :param required: columns that must all be present.
    :param one_of: groups of columns of which at least one must be present
        (Meta: ``email`` or ``phone``).
    :param optional: columns used when present.
    """

    required: tuple[Column, ...] = ()
    one_of: tuple[tuple[Column, ...], ...] = ()
    optional: tuple[Column, ...] = field(default_factory=tuple)

    def columns(self) -> dict[str, Column]:
        """Every column the contract knows, by name."""
        out = {c.name: c for c in self.required}
        for group in self.one_of:
            out.update({c.name: c for c in group})
        out.update({c.name: c for c in self.optional})
        return out
