"""The examples in connector's docstrings run, and stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import connector

MODULES = sorted(m.name for m in pkgutil.walk_packages(connector.__path__, "connector.")
                 if m.name != "connector.__main__"  # importing it runs the CLI
                 and not m.name.startswith("connector.engines.spark"))  # needs the extra
#: modules whose docstrings carry examples; each must keep at least one
WITH_EXAMPLES = {"connector.kit.secrets", "connector.kit.contract", "connector.validation.query"}


def test_the_module_list_is_complete() -> None:
    assert WITH_EXAMPLES <= set(MODULES)
    assert "connector.run.pipeline" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCTEST_TOKEN", raising=False)  # secrets' example sets it
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} doctest(s) failed in {name}"
    if name in WITH_EXAMPLES:
        assert results.attempted > 0
