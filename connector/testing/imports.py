"""Which parts of ``connector`` a plugin imports: :func:`check_imports`.

A plugin may import only the public parts of offramp (``docs/plugins.md``):

* ``connector`` itself, for the names in ``connector.__all__``;
* ``connector.hookspecs``;
* ``connector.kit``, for the names in its ``__all__`` and its modules listed in
  ``connector.kit.MODULES``;
* ``connector.testing`` and its modules.

Everything else in ``connector`` is private and may change in any release. The check
reads the source (it imports nothing of the package it checks): ``import x``,
``from x import y`` (relative imports resolved against the file's package), attribute
chains on an imported ``connector`` (``connector.run.pipeline.run``), and
``importlib.import_module("...")`` / ``__import__("...")`` with a literal name.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["check_imports", "public"]

#: Folders never searched: caches, builds, virtual environments.
_SKIPPED = ("__pycache__", "build", "dist", "node_modules", "site-packages")

#: What to use instead of a private module (the longest matching prefix wins).
_INSTEAD = {
    "connector.__version__": "use importlib.metadata.version(\"offramp\")",
    "connector.api": "import its names from connector (open_project, ProjectHandle, Events, "
                     "Plan, Preview, installed_destinations)",
    "connector.run": "run jobs through the Python API: connector.open_project(root).run(job, "
                     "sleep=...) (or .validate, .preview, .plan, .events)",
    "connector.validation": "validate jobs through the Python API: "
                            "connector.open_project(root).validate(job)",
    "connector.project": "open projects with connector.open_project(root); in tests, make them "
                         "with connector.testing.make_project",
    "connector.state": "keep your own tables with connector.kit.tables (PluginTable, "
                       "PluginTables); read runs and rejects with connector.open_project(root)",
    "connector.engines": "return shaping SQL as text (connector.kit.sql quotes values and "
                         "names); write warehouse tables with connector.kit.warehouse",
    "connector.registry": "register with @connector.kit.hookimpl hooks and an entry point; in "
                          "tests use connector.testing's offramp_plugin fixture",
    "connector.cli": "write commands with connector.kit.commands (project, echo, run_job)",
}


@functools.cache
def _public_names() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """``connector.__all__``, ``connector.kit.__all__`` and ``connector.kit.MODULES``."""
    import connector
    from connector import kit

    return frozenset(connector.__all__), frozenset(kit.__all__), frozenset(kit.MODULES)


def public(name: str) -> bool:
    """Whether a plugin may import ``name``: a dotted module name, or a module's
    attribute (``connector.kit.http.send``, ``connector.Destination``).

    >>> public("connector.kit.pii"), public("connector.Destination")
    (True, True)
    >>> public("connector.run.pipeline"), public("connector.kit.nothing_of_the_kind")
    (False, False)
    """
    top, kit_names, modules = _public_names()
    parts = name.split(".")
    if parts[0] != "connector" or len(parts) == 1:
        return True
    if parts[1] in ("hookspecs", "testing"):
        return True
    if parts[1] == "kit":
        return len(parts) == 2 or parts[2] in kit_names or parts[2] in modules
    return parts[1] in top


def _instead(name: str) -> str:
    """What a plugin should use instead of the private ``name``."""
    where = None if _is_module(name) else _public_home(name.rsplit(".", 1)[-1])
    if where:
        return f"use {where}"
    for prefix in sorted(_INSTEAD, key=len, reverse=True):
        if name == prefix or name.startswith(prefix + "."):
            return _INSTEAD[prefix]
    return "use connector.kit (its names and modules are listed in docs/plugins.md)"


def _is_module(name: str) -> bool:
    """Whether ``name`` is a module (not a module's attribute, nor nothing at all)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _public_home(attribute: str) -> str | None:
    """A public module that offers ``attribute`` (``connector.kit.X``,
    ``connector.kit.<module>.X``, ``connector.testing.X``), if any."""
    top, kit_names, modules = _public_names()
    if attribute in kit_names:
        return f"connector.kit.{attribute} (also importable from connector)"
    if attribute in modules:
        return f"connector.kit.{attribute}"
    if attribute in top:
        return f"connector.{attribute}"
    if not attribute.startswith("_"):
        for module in sorted(modules):
            loaded = importlib.import_module(f"connector.kit.{module}")
            if hasattr(loaded, attribute) and \
                    not isinstance(getattr(loaded, attribute), type(loaded)):
                return f"connector.kit.{module}.{attribute}"
    testing = importlib.import_module("connector.testing")
    if attribute in testing.__all__:
        return f"connector.testing.{attribute}"
    return None


# -- reading the source -------------------------------------------------------------------
def _files(paths: str | Path | Iterable[str | Path]) -> Iterator[Path]:
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    for item in map(Path, items):
        if item.is_dir():
            for path in sorted(item.rglob("*.py")):
                parts = path.relative_to(item).parts[:-1]
                if not any(p in _SKIPPED or p.startswith(".") or p.endswith(".egg-info")
                           for p in parts):
                    yield path
        else:
            yield item


def _package(path: Path) -> str:
    """The dotted package of the module at ``path`` (from the ``__init__.py`` files
    around it; ``""`` for a module outside any package)."""
    parts: list[str] = []
    folder = path.resolve().parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def _absolute(module: str | None, level: int, package: str) -> str | None:
    """The absolute name of ``from <.level><module> import ...`` in ``package``."""
    if not level:
        return module
    base = package.split(".") if package else []
    if level - 1 > len(base):
        return None
    base = base[:len(base) - (level - 1)]
    return ".".join([*base, *([module] if module else [])]) or None


def _chain(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything but names and attributes."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *parts]
    return None


class _Visitor(ast.NodeVisitor):
    """Collects every name the module imports from ``connector``, with its line and the
    statement's text."""

    def __init__(self, package: str, source: str):
        self.package, self.source = package, source
        self.found: list[tuple[int, str, str]] = []  # (line, name, statement)
        self.aliases: dict[str, str] = {}  # local name -> the connector module it holds
        self.loaders: set[str] = {"__import__", "importlib.import_module"}

    def _text(self, node: ast.stmt | ast.expr) -> str:
        text = ast.get_source_segment(self.source, node) or ""
        return " ".join(text.split())

    def _add(self, node: ast.stmt | ast.expr, name: str | None) -> None:
        if name and (name == "connector" or name.startswith("connector.")):
            self.found.append((node.lineno, name, self._text(node)))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)
            if alias.name == "importlib" or alias.name.startswith("connector"):
                local = alias.asname or alias.name.split(".")[0]
                self.aliases[local] = alias.name if alias.asname else local
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = _absolute(node.module, node.level, self.package)
        for alias in node.names:
            if module == "importlib" and alias.name == "import_module":
                self.loaders.add(alias.asname or alias.name)
            elif module is not None and alias.name != "*":
                self._add(node, f"{module}.{alias.name}")
                if module.startswith("connector") or module == "importlib":
                    self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
            else:
                self._add(node, module)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = _chain(node)
        if chain and chain[0] in self.aliases:
            target = self.aliases[chain[0]]
            # Uses of a private import are not reported again: its import was.
            if target.startswith("connector") and public(target):
                self._add(node, ".".join([target, *chain[1:]]))
                return
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        chain = _chain(node.func)
        called = ".".join([self.aliases.get(chain[0], chain[0]), *chain[1:]]) if chain else ""
        if (called in self.loaders or (chain and ".".join(chain) in self.loaders)) and \
                node.args and isinstance(node.args[0], ast.Constant) and \
                isinstance(node.args[0].value, str):
            name = node.args[0].value
            anchor = next((k.value.value for k in node.keywords if k.arg == "package" and
                           isinstance(k.value, ast.Constant)), None)
            if name.startswith(".") and isinstance(anchor, str):
                level = len(name) - len(name.lstrip("."))
                name = _absolute(name.lstrip(".") or None, level, anchor) or name
            self._add(node, name)
        self.generic_visit(node)


def check_imports(paths: str | Path | Iterable[str | Path]) -> list[str]:
    """Every import of a private part of ``connector`` in the Python files under
    ``paths`` (a package folder, a file, or several of them); empty when the plugin
    imports only the public kit. Each problem names the file, the line, the import and
    what to use instead::

        plugins/acme/__init__.py:3: `from connector.run import pipeline`: connector.run is
        private; run jobs through the Python API: connector.open_project(root).run(job, ...)

    Files that do not parse are problems too. Run it in a test of your plugin:
    ``assert not check_imports(Path(my_plugin.__file__).parent)``.
    """
    problems: list[str] = []
    for path in _files(paths):
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=str(path))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{path}: could not read it to check its imports: {exc}")
            continue
        visitor = _Visitor(_package(path), source)
        visitor.visit(tree)
        for line, name, statement in sorted(set(visitor.found)):
            if not public(name):
                private = _private_part(name)
                problems.append(f"{path}:{line}: `{statement}`: {private} is private; "
                                f"{_instead(name)}")
    return problems


def _private_part(name: str) -> str:
    """The shortest prefix of ``name`` that is not public (what to name in the message)."""
    parts = name.split(".")
    for end in range(2, len(parts) + 1):
        if not public(".".join(parts[:end])):
            return ".".join(parts[:end])
    return name
