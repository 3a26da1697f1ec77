"""Writing tables into the warehouse: what sources do, and what demos and tests use to
build one.

A source declares the tables it writes (:attr:`~connector.kit.Source.tables`) and
writes them through the :class:`SourceWriter` its
:meth:`~connector.kit.Source.pull` receives: each write is cast to the table's
declared schema and replaces the rows matching its key values, so pulling a window
again replaces it. :class:`WarehouseWriter` writes any table, for building a
warehouse outside a source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from connector.engines.warehouse import Warehouse, WarehouseWriter
from connector.kit.errors import PluginError
from connector.kit.tables import PluginTable, conform

__all__ = ["SourceWriter", "Warehouse", "WarehouseWriter"]


class SourceWriter:
    """The declared tables of one source, written into the project's warehouse."""

    def __init__(self, owner: str, declared: Iterable[PluginTable], writer: WarehouseWriter):
        self.owner = owner
        self.declared = {table.name: table for table in declared}
        self._writer = writer

    def replace(self, table: PluginTable, data: pa.Table, *,
                where: Mapping[str, Any]) -> int:
        """Replace the rows of ``table`` whose key columns equal ``where`` with ``data``
        (cast to the table's schema); returns the rows written. In a DuckDB warehouse
        one transaction; in a Parquet warehouse one file per key, replaced atomically."""
        if not isinstance(table, PluginTable):
            raise PluginError(f"the {self.owner} source writes {table!r} by name: declare the "
                              "table in its tables() and pass that PluginTable")
        if self.declared.get(table.name) != table:
            known = ", ".join(self.declared) or "none"
            raise PluginError(f"the {self.owner} source writes the table {table.name!r}, which "
                              f"it does not declare in its `tables` (declared: {known})")
        stray = [c for c in where if c not in table.key]
        if stray:
            raise PluginError(f"the {self.owner} source replaces rows of {table.name} by "
                              f"{', '.join(stray)}, which is not among its key columns "
                              f"({', '.join(table.key) or 'none'})")
        return self._writer.replace(table.name, conform(f"the {self.owner} source", table, data),
                                    where=dict(where))
