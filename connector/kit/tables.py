"""Tables a plugin keeps in a job's state file, such as a destination's delivery reports.

A destination declares its tables (:attr:`~connector.kit.Destination.tables`), each a
:class:`PluginTable` with an Arrow schema and the key columns that say which rows one
write replaces. offramp hands the destination a :class:`PluginTables` after a run
(:meth:`~connector.kit.Destination.after_run`), and plugin commands get one from the
Python API (``ProjectHandle.tables(job)``). Writes replace the rows that match the key
values given, in one transaction, so fetching a report twice never doubles it; the
Python API reads the tables back (``ProjectHandle.table(job, name)``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from connector.kit.errors import PluginError

#: Tables of offramp's own, which no plugin table may be called.
RESERVED = frozenset({"runs", "ledger", "rejects", "sources", "source_rejects"})
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class PluginTable:
    """A table in the state file of each job that uses the destination.

    :param name: lower-case letters, digits and ``_``; by convention it starts with the
        destination's name (``microsoft_report_daily``).
    :param schema: the table's columns; what is written is cast to it.
    :param key: the columns whose values a write names: :meth:`PluginTables.replace`
        replaces the rows that match them.
    """

    name: str
    schema: pa.Schema
    key: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name) or self.name in RESERVED:
            raise ValueError(f"{self.name!r} cannot name a plugin table: use lower-case "
                             f"letters, digits and '_', and none of {', '.join(sorted(RESERVED))}")
        missing = [c for c in self.key if self.schema.get_field_index(c) < 0]
        if missing:
            raise ValueError(f"table {self.name}: the key column(s) {', '.join(missing)} are "
                             "not in its schema")


class TableStore(Protocol):
    """Where :class:`PluginTables` keeps the rows: the job's state file (offramp's own)."""

    def replace(self, table: str, data: pa.Table, *, where: dict[str, Any]) -> int: ...

    def read(self, table: str) -> pa.Table | None: ...


class PluginTables:
    """The declared tables of one destination in one job's state file."""

    def __init__(self, owner: str, declared: Iterable[PluginTable], store: TableStore):
        self.owner = owner
        self.declared = {table.name: table for table in declared}
        self._store = store

    def _table(self, table: PluginTable) -> PluginTable:
        if not isinstance(table, PluginTable):
            raise PluginError(f"the {self.owner} destination writes {table!r} by name: "
                              "declare the table in its `tables` and pass that PluginTable")
        if self.declared.get(table.name) != table:
            known = ", ".join(self.declared) or "none"
            raise PluginError(f"the {self.owner} destination writes the table {table.name!r}, "
                              f"which it does not declare in its `tables` (declared: {known})")
        return table

    def replace(self, table: PluginTable, data: pa.Table, *,
                where: Mapping[str, Any]) -> int:
        """Replace the rows of ``table`` whose key columns equal ``where`` with ``data``
        (cast to the table's schema), in one transaction; returns the rows written.
        ``where`` names key columns only; ``data``'s rows should carry those values."""
        table = self._table(table)
        stray = [c for c in where if c not in table.key]
        if stray:
            raise PluginError(f"the {self.owner} destination replaces rows of {table.name} by "
                              f"{', '.join(stray)}, which is not among its key columns "
                              f"({', '.join(table.key) or 'none'})")
        return self._store.replace(table.name,
                                   conform(f"the {self.owner} destination", table, data),
                                   where=dict(where))

    def read(self, table: PluginTable) -> pa.Table:
        """The rows of ``table`` (none yet: an empty table of its schema)."""
        table = self._table(table)
        found = self._store.read(table.name)
        return table.schema.empty_table() if found is None else found


def conform(who: str, table: PluginTable, data: pa.Table) -> pa.Table:
    """``data`` with exactly the columns of ``table``'s schema, in its order and types;
    ``who`` (``"the meta destination"``) names the writer in errors."""
    missing = [f.name for f in table.schema if f.name not in data.column_names]
    if missing:
        raise PluginError(f"{who} writes {table.name} without the column(s) "
                          f"{', '.join(missing)} its schema declares")
    try:
        return data.select(table.schema.names).cast(table.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise PluginError(f"{who} writes {table.name} with values that do not fit its "
                          f"declared schema: {exc}") from None
