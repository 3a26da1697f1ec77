"""``connector`` never imports ``plugins``: built-ins arrive through entry points, like
everybody else's. Only connector/engines/warehouse.py and its state_file.py import duckdb,
and only they and the state package run statements on DuckDB connections; only
connector/validation/query.py imports sqlglot, with connector/engines/spark/sql/, the
DuckDB -> Spark transpile step of ``--engine spark``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CONNECTOR = Path(__file__).resolve().parents[2] / "connector"
MODULES = sorted(CONNECTOR.rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, statically or through importlib.import_module("...")."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and node.args:
            called = getattr(node.func, "attr", getattr(node.func, "id", ""))
            first = node.args[0]
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                names.add(first.value)
    return names


def test_there_are_modules_to_check() -> None:
    assert len(MODULES) >= 15 and CONNECTOR.joinpath("run", "pipeline.py") in MODULES


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_connector_never_imports_plugins(path: Path) -> None:
    bad = {name for name in imported(path) if name == "plugins" or name.startswith("plugins.")}
    assert not bad, f"{path.name} imports {bad}: built-ins must come in through entry points"


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import plugins.meta\nfrom plugins import jsonl\n"
                      "import importlib\nimportlib.import_module('plugins.rq')\n"
                      "from connector import plugins\n")
    assert imported(sample) == {"plugins.meta", "plugins", "importlib", "plugins.rq",
                                "connector"}


@pytest.mark.parametrize(("library", "owners"), [
    ("duckdb", ["engines/state_file.py", "engines/warehouse.py"]),
    ("sqlglot", ["engines/spark/sql/aggregates.py", "engines/spark/sql/base.py",
                 "engines/spark/sql/transpile.py", "validation/query.py",
                 "validation/syntax.py"])])
def test_fast_moving_libraries_are_fenced_in_one_module(library: str, owners: list[str]) -> None:
    users = sorted(str(p.relative_to(CONNECTOR)) for p in MODULES
                   if any(n == library or n.startswith(library + ".") for n in imported(p)))
    assert users == owners


#: The modules that run statements on DuckDB connections: the engine over the warehouse,
#: its attaching of state files, and the state package (the one owner of the state file).
DUCKDB_OWNERS = ("engines/warehouse.py", "engines/state_file.py", "state/")
_STATEMENTS = {"execute", "sql", "register", "unregister", "fetchall", "fetchone"}


def duckdb_calls(path: Path) -> list[int]:
    """Lines of ``path`` that call a statement method on a connection (``con.execute``,
    ``x.con.sql``, ``cursor.register``, ...)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in _STATEMENTS:
            receiver = node.func.value
            name = receiver.id if isinstance(receiver, ast.Name) else \
                receiver.attr if isinstance(receiver, ast.Attribute) else ""
            if name in ("con", "cursor", "connection"):
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(CONNECTOR)))
def test_duckdb_statements_run_only_in_the_modules_that_own_them(path: Path) -> None:
    where = str(path.relative_to(CONNECTOR))
    if where.startswith(DUCKDB_OWNERS):
        return
    assert not duckdb_calls(path), (f"{where} runs DuckDB statements on a connection at lines "
                                    f"{duckdb_calls(path)}: go through connector.engines.warehouse."
                                    "Engine or the connector.state package")


def test_the_statement_check_sees_connections(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("con.execute('x')\nself.engine.con.sql('y')\nregistry.register(p)\n"
                      "engine.rows('z')\n")
    assert duckdb_calls(sample) == [1, 2]
