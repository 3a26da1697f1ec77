"""The google plugin is built as a third party would build it: it imports only the
public plugin kit (``connector.kit`` and its modules, ``connector.hookspecs``,
``connector.testing``, names in ``connector.__all__``) and no other plugin."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import connector
from connector import kit

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "google"
PUBLIC = {"connector", "connector.kit", "connector.hookspecs", "connector.testing",
          *(f"connector.kit.{m}" for m in kit.MODULES)}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in ``path``, at any depth."""
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [alias.name for alias in node.names]))
    return out


@pytest.mark.parametrize("path", sorted(PLUGIN.glob("*.py")), ids=lambda p: p.name)
def test_the_plugin_imports_only_the_public_kit(path: Path) -> None:
    for module, names in imports(path):
        if module.startswith("connector"):
            assert module in PUBLIC, f"{path.name} imports the private {module}"
            if module == "connector":
                assert set(names) <= set(connector.__all__), f"{path.name}: {names}"
        if module.startswith("plugins"):
            assert module.startswith("plugins.google"), f"{path.name} imports {module}"
