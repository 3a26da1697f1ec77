"""Tables plugins keep in a job's state file (:mod:`connector.kit.tables`): written by
key, in one transaction each, and read back by name."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from connector.kit.sql import identifier
from connector.state.base import Connected
from connector.state.schema import TABLES


class PluginTableStore(Connected):
    """The state file's side of :class:`connector.kit.tables.PluginTables`."""

    def replace(self, table: str, data: pa.Table, *, where: dict[str, Any]) -> int:
        """Replace the rows of ``table`` matching ``where`` (column -> value) with
        ``data``, in one transaction; the table is created from ``data`` on first use,
        and columns ``data`` has that the table lacks are added."""
        if table in TABLES:
            raise ValueError(f"{table} is one of offramp's own tables")
        name = f"state.{identifier(table)}"
        with self.registered("_incoming", data), self.transaction():
            self.run(f"CREATE TABLE IF NOT EXISTS {name} AS SELECT * FROM _incoming LIMIT 0")
            have = {row[0] for row in self.run(f"DESCRIBE {name}")}
            for column, kind, *_ in self.run("DESCRIBE SELECT * FROM _incoming"):
                if column not in have:
                    self.run(f"ALTER TABLE {name} ADD COLUMN {identifier(column)} {kind}")
            cond = " AND ".join(f"{identifier(c)} IS NOT DISTINCT FROM ?" for c in where)
            self.run(f"DELETE FROM {name} WHERE {cond or 'TRUE'}", list(where.values()))
            self.run(f"INSERT INTO {name} BY NAME SELECT * FROM _incoming")
        return data.num_rows

    def read(self, table: str) -> pa.Table | None:
        """The rows of ``table``, or None when the state file has no such table."""
        if table not in self.plugin_tables():
            return None
        return self.table(f"SELECT * FROM state.{identifier(table)}")

    def plugin_tables(self) -> list[str]:
        """The names of the plugins' tables in the state file."""
        return [name for (name,) in self.run(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'state' "
            "ORDER BY table_name") if name not in TABLES]
