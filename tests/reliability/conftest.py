"""Fixtures for the reliability tests (the helpers live in ``reliability_kit``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from reliability_kit import TOKEN, GatedMeta, Shop  # noqa: E402


@pytest.fixture
def emulator_class() -> type[GatedMeta]:
    """The emulator class :func:`emu` starts (a test module overrides this fixture to use
    a subclass)."""
    return GatedMeta


@pytest.fixture
def emu(emulator_class: type[GatedMeta]) -> Iterator[GatedMeta]:
    """A fresh gated Meta emulator that knows only :data:`TOKEN`."""
    emulator = emulator_class(tokens={TOKEN})
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.release(process=False)
        emulator.stop()


@pytest.fixture
def shop(tmp_path: Path, emu: GatedMeta, monkeypatch: pytest.MonkeyPatch) -> Shop:
    """An empty project whose Meta jobs send to ``emu``; META_ACCESS_TOKEN is set."""
    monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
    root = tmp_path / "shop"
    (root / "queries").mkdir(parents=True)
    return Shop(root, emu.url)
