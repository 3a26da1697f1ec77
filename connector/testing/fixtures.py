"""The pytest fixtures offramp installs for every project (entry point ``pytest11``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.kit.emulator import Emulator
from connector.kit.errors import PluginError
from connector.testing.projects import make_project
from connector.testing.sink import RecordingSink


@pytest.fixture
def offramp_project(tmp_path: Path):
    """Factory: ``offramp_project(tables=..., jobs=...)`` -> Project in a temporary folder."""
    counter = iter(range(1_000_000))

    def make(*, tables: dict[str, Any] | None = None,
             jobs: dict[str, tuple[str, dict[str, Any], str]] | None = None):
        return make_project(tmp_path / f"project{next(counter)}", tables=tables, jobs=jobs)

    return make


@pytest.fixture
def recording_sink() -> Iterator[RecordingSink]:
    with RecordingSink() as sink:
        yield sink


@pytest.fixture
def offramp_emulator() -> Iterator[Callable[..., Emulator]]:
    """Factory: ``offramp_emulator("meta", **kwargs)`` starts that plugin's emulator."""
    from connector import registry

    started: list[Emulator] = []

    def start(name: str, **kwargs: Any) -> Emulator:
        try:
            cls = registry.emulator(name)
        except PluginError as exc:
            raise LookupError(str(exc)) from None
        if cls is None:
            raise LookupError(f"the installed plugin {name!r} ships no emulator")
        emulator = cls(**kwargs).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def offramp_plugin() -> Iterator[Callable[..., None]]:
    """Factory: ``offramp_plugin(module_or_object, name=None)`` registers it for this test,
    unless it is registered already (an installed plugin's entry point registers its
    module: a test of that plugin works installed or not)."""
    from connector import registry

    names: list[str] = []

    def register(plugin: Any, name: str | None = None) -> None:
        if registry.manager().is_registered(plugin):
            return
        name = name or getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
        registry.register(plugin, name=name)
        names.append(name)

    yield register
    for name in names:
        registry.unregister(name)
