"""Plugins import only offramp's public parts (connector.testing.check_imports): the
built-in plugins, the example plugins and the package ``offramp new-plugin`` writes; and
the check catches each way of importing a private part, and passes the public ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector import kit
from connector.cli.scaffold import scaffold
from connector.testing import check_imports
from connector.testing.imports import public

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("where", ["plugins", *sorted(
    f"examples/{p.name}" for p in (REPO / "examples").iterdir() if p.is_dir())])
def test_the_plugins_here_import_only_the_public_kit(where):
    assert (REPO / where).is_dir()
    assert check_imports(REPO / where) == []


def test_the_package_new_plugin_writes_imports_only_the_public_kit(tmp_path):
    root = scaffold("acme", tmp_path)
    assert sorted(p.name for p in root.rglob("*.py")) == ["__init__.py", "test_offramp_acme.py"]
    assert check_imports(root) == []


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


GOOD = '''\
import connector
import connector.kit.http
import importlib
from connector import Destination, open_project, hookimpl
from connector.kit import Contract, http, pii, commands
from connector.kit.http import send
from connector.kit.events import SOURCE_ROWS
from connector.hookspecs import hookimpl as spec_hookimpl
from connector.testing import check_destination, RecordingSink
from connector.testing.sink import RecordingSink as Sink
from connector import *
from . import helpers
import requests

importlib.import_module("connector.kit.pii")
connector.kit.http.send
connector.Destination
'''

#: a line of a plugin -> what the problem it makes must say.
BAD = {
    "import connector.run.pipeline": "`import connector.run.pipeline`: connector.run is private; "
                                     "run jobs through the Python API: connector.open_project",
    "import connector.state as st": "connector.state is private; keep your own tables with "
                                    "connector.kit.tables",
    "from connector.engines.warehouse import WarehouseWriter":
        "connector.engines is private; use connector.kit.warehouse.WarehouseWriter",
    "from connector.engines.warehouse import Engine": "connector.engines is private; return "
                                                      "shaping SQL as text",
    "from connector.kit.errors import OfframpError as E": "",  # public: no problem
    "from connector import registry": "connector.registry is private; register with "
                                      "@connector.kit.hookimpl",
    "from connector import __version__": "connector.__version__ is private; use "
                                         "importlib.metadata.version(\"offramp\")",
    "from connector.kit import not_in_the_kit": "connector.kit.not_in_the_kit is private",
    "from connector.cli.output import out": "connector.cli is private; write commands with "
                                            "connector.kit.commands",
    "from connector.run import *": "`from connector.run import *`: connector.run is private",
    "from connector.project import Project": "connector.project is private; open projects with "
                                             "connector.open_project",
    "from connector.api.project import ProjectHandle":
        "connector.api is private; use connector.ProjectHandle",
    "importlib.import_module('connector.cli.app')": "connector.cli is private",
    "importlib.import_module('.state', package='connector')": "connector.state is private",
    "__import__('connector.registry')": "connector.registry is private",
    "import_module('connector.validation.query')": "connector.validation is private",
    "connector.run.pipeline.run(project, 'job')": "`connector.run.pipeline.run`: connector.run "
                                                  "is private",
    "kit.destination.Batch": "",  # the kit's modules are public
    "kit.secret_helpers.thing": "connector.kit.secret_helpers is private",
}


def test_each_kind_of_private_import_is_caught_and_public_ones_pass(tmp_path):
    header = ("import importlib\nimport connector\nfrom connector import kit\n"
              "from importlib import import_module\n")
    root = write(tmp_path / "acme", {"acme/__init__.py": "", "acme/helpers.py": "",
                                     "acme/good.py": GOOD,
                                     "acme/bad.py": header + "\n".join(BAD) + "\n"})
    problems = check_imports(root)
    by_line = {int(p.split(":")[1]): p for p in problems}
    assert all(p.startswith(f"{root / 'acme' / 'bad.py'}:") for p in problems), problems
    for offset, (line, message) in enumerate(BAD.items(), start=header.count("\n") + 1):
        if not message:
            assert offset not in by_line, by_line[offset]
        else:
            assert offset in by_line, f"not caught: {line}"
            assert message in by_line[offset], by_line[offset]
            assert "; " in by_line[offset].split("is private", 1)[1]  # what to use instead
    assert len(problems) == sum(1 for m in BAD.values() if m)


def test_relative_imports_are_resolved_against_the_package(tmp_path):
    """A module inside a package called ``connector`` (as offramp's own are): relative
    imports are read as the absolute names they stand for."""
    root = write(tmp_path, {"connector/__init__.py": "", "connector/acme/__init__.py": "",
                            "connector/acme/mod.py": "from .. import kit\nfrom ..kit import pii\n"
                                                     "from ..run import pipeline\n"
                                                     "from ...outside import x\n"})
    problems = check_imports(root / "connector" / "acme")
    assert len(problems) == 1 and ":3: `from ..run import pipeline`: connector.run is private" \
        in problems[0]


def test_files_are_checked_one_by_one_and_unreadable_ones_reported(tmp_path):
    good = write(tmp_path, {"good.py": "from connector.kit import pii\n"}) / "good.py"
    broken = write(tmp_path, {"broken.py": "from connector import (\n"}) / "broken.py"
    private = write(tmp_path, {"p.py": "x = 1\nfrom connector.state import State\n"}) / "p.py"
    assert check_imports(good) == []
    (problem,) = check_imports([good, broken])
    assert problem.startswith(f"{broken}: could not read it to check its imports")
    assert check_imports([str(private)]) == [
        f"{private}:2: `from connector.state import State`: connector.state is private; keep "
        "your own tables with connector.kit.tables (PluginTable, PluginTables); read runs and "
        "rejects with connector.open_project(root)"]


def test_caches_builds_and_environments_are_not_searched(tmp_path):
    bad = "from connector.run import pipeline\n"
    root = write(tmp_path, {"build/lib/acme.py": bad, ".venv/lib/x.py": bad,
                            "acme.egg-info/x.py": bad, "__pycache__/x.py": bad,
                            "acme/ok.py": "import connector\n"})
    assert check_imports(root) == []


def test_the_public_parts_are_what_docs_plugins_md_promises():
    assert all(public(f"connector.{name}") for name in __import__("connector").__all__)
    assert all(public(f"connector.kit.{name}") for name in [*kit.__all__, *kit.MODULES])
    assert public("connector.hookspecs") and public("connector.testing.conformance")
    for private in ("connector.run", "connector.state", "connector.engines.warehouse",
                    "connector.cli", "connector.project", "connector.registry", "connector.api",
                    "connector.validation"):
        assert not public(private), private
    # Every module of the kit is listed as public: a new one must be declared.
    modules = {p.stem for p in Path(kit.__file__).parent.glob("*.py") if p.stem != "__init__"}
    assert modules == set(kit.MODULES)
