"""Projects for tests: a DuckDB warehouse with tables, and saved jobs."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa


def to_toml(table: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for job settings (strings, numbers, booleans, lists, tables).

    >>> print(to_toml({"a": "x", "n": 2, "t": {"k": [1, 2]}}).strip())
    a = "x"
    n = 2
    <BLANKLINE>
    [t]
    k = [1, 2]
    """
    lines, tables = [], []
    for key, value in table.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{json.dumps(key) if not key.isidentifier() else key} = "
                         f"{_toml_value(value)}")
    for key, value in tables:
        name = f"{prefix}.{key}" if prefix else key
        lines.append(f"\n[{name}]")
        lines.append(to_toml(value, name).rstrip("\n"))
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def write_job(root: Path, name: str, destination: str, settings: dict[str, Any], sql: str) -> Path:
    """Write ``queries/<name>.sql`` with its ``/* offramp ... */`` header."""
    path = Path(root) / "queries" / f"{name}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f'destination = "{destination}"\n\n' + to_toml({"settings": settings})
    path.write_text(f"/* offramp\n{header}*/\n{sql.strip()}\n", encoding="utf-8")
    return path


def make_project(root: Path, *, tables: dict[str, Any] | None = None,
                 jobs: dict[str, tuple[str, dict[str, Any], str]] | None = None):
    """A project in ``root`` with a DuckDB warehouse holding ``tables`` and the ``jobs``.

    Returns a :class:`connector.project.Project`.
    """
    from connector.engines.warehouse import Warehouse, WarehouseWriter
    from connector.project import Project

    root = Path(root)
    (root / "queries").mkdir(parents=True, exist_ok=True)
    with WarehouseWriter(Warehouse("duckdb", root / "warehouse.duckdb")) as writer:
        for name, data in (tables or {}).items():
            arrow = data if isinstance(data, pa.Table) else pa.Table.from_pylist(list(data))
            writer.replace(name, arrow, where={})
    for name, (destination, settings, sql) in (jobs or {}).items():
        write_job(root, name, destination, settings, sql)
    return Project(root)


@contextlib.contextmanager
def registered(plugin: Any, name: str | None = None) -> Iterator[None]:
    """Register a plugin (module or object with hook implementations) for a block."""
    from connector import registry

    name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
    registry.register(plugin, name=name)
    try:
        yield
    finally:
        registry.unregister(name)

