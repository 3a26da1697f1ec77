"""A DuckDB connection with a job's state file attached as ``state``, and the one way
the state package runs a transaction on it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa


class Connected:
    """What every part of the state package works through: ``con``, a DuckDB
    connection (or cursor) on which the state file is attached as ``state``."""

    def __init__(self, con: Any):
        self.con = con

    def run(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return its rows."""
        return self.con.execute(sql, params or []).fetchall()

    def one(self, sql: str, params: list[Any] | None = None) -> Any:
        """The first value of the first row of ``sql`` (None when it has no row)."""
        rows = self.run(sql, params)
        return rows[0][0] if rows else None

    def table(self, sql: str) -> pa.Table:
        """The result of ``sql`` as an Arrow table (for small results: counts, listings)."""
        return self.con.sql(sql).to_arrow_table()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block's statements as one transaction: all of them, or none."""
        self.run("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.run("ROLLBACK")
            raise
        self.run("COMMIT")

    @contextmanager
    def registered(self, name: str, data: Any) -> Iterator[str]:
        """``data`` (an Arrow table or reader) readable as the view ``name`` in the block."""
        self.con.register(name, data)
        try:
            yield name
        finally:
            self.con.unregister(name)
