"""``offramp new-plugin NAME``: a ready plugin package whose tests pass out of the box."""

from __future__ import annotations

import re
import shlex
from importlib import resources
from pathlib import Path
from string import Template

import click
from rich.markup import escape

from connector.cli.app import cli
from connector.cli.output import out
from connector.kit.errors import ConfigError

#: What to type next, as printed (``root`` is the new package's folder).
NEXT = "cd {root} && pip install -e '.[test]' && pytest"

#: template file -> where it goes in the new package ($package is substituted).
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "__init__.py.tmpl": "$package/__init__.py",
    "test_plugin.py.tmpl": "tests/test_$package.py",
}


def scaffold(name: str, parent: Path) -> Path:
    """Write the package ``offramp-<name>`` under ``parent``; returns its folder."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ConfigError(f"{name!r}: plugin names use lowercase letters, digits and '_'")
    values = {
        "name": name,
        "package": f"offramp_{name}",
        "distribution": f"offramp-{name.replace('_', '-')}",
        "class_name": "".join(part.capitalize() for part in name.split("_")) + "Destination",
        "upper": name.upper(),
    }
    root = parent / values["distribution"]
    if root.exists():
        raise ConfigError(f"{root} already exists")
    templates = resources.files("connector.cli").joinpath("templates", "plugin")
    for template, target in FILES.items():
        text = Template(templates.joinpath(template).read_text("utf-8")).substitute(values)
        path = root / Template(target).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@cli.command("new-plugin")
@click.argument("name")
@click.option("--dir", "parent", type=click.Path(file_okay=False), default=".",
              help="Where to create the package.")
def new_plugin(name: str, parent: str) -> None:
    """Write a plugin package skeleton (destination, emulator, conformance test)."""
    root = scaffold(name, Path(parent))
    # One line each, never wrapped (soft_wrap), so that the next step can be copied.
    out.print(escape(f"created {root}"), soft_wrap=True)
    out.print(escape(f"next: {NEXT.format(root=shlex.quote(str(root)))}"), soft_wrap=True)
