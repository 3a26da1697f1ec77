"""What the DuckDB-to-Spark SQL modules share: the dialects, the error, the notes of
the mapping step, and a way to write a Spark expression with placeholders."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from connector.kit.errors import OfframpError

READ = "duckdb"
WRITE = "spark"


class TranspileError(OfframpError):
    """The SQL uses something that has no faithful Spark mapping."""


class Notes:
    """How many times each kind of rewrite was made."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, note: str) -> None:
        self.counts[note] = self.counts.get(note, 0) + 1

    def lines(self) -> tuple[str, ...]:
        return tuple(f"{note}{f' ({n}x)' if n > 1 else ''}" for note, n in self.counts.items())


def spark(template: str, **values: exp.Expr) -> exp.Expr:
    """A Spark SQL expression with ``:name`` placeholders filled by ``values``."""
    return exp.replace_placeholders(sqlglot.parse_one(template, read=WRITE), **values)


def literal_text(node: exp.Expr | None) -> str | None:
    """The value of a string literal, else None."""
    return node.this if isinstance(node, exp.Literal) and node.is_string else None


def constant_text(node: exp.Expr | None) -> str | None:
    """The value of a string literal or of ``||`` between such (after :func:`chr` of a
    constant became a literal), else None."""
    if isinstance(node, exp.DPipe):
        left, right = constant_text(node.this), constant_text(node.expression)
        return None if left is None or right is None else left + right
    return literal_text(node)
