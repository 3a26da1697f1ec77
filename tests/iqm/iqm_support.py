"""Helpers for the IQM tests (imported as ``tests.iqm.iqm_support``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from connector import Batch
from plugins.iqm import IqmEmulator

#: The runs' clock (RunContext.now).
NOW = dt.datetime(2026, 9, 1, 12, 0, tzinfo=dt.UTC)


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it and records the wait."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def batch(payloads: list[str], keys: list[str] | None = None, route: str | None = None) -> Batch:
    """A Batch whose keys default to the payloads' positions."""
    return Batch(route, keys or [str(i) for i in range(len(payloads))], payloads)


def campaigns(*ids: int) -> Batch:
    return Batch(None, [str(i) for i in ids], [f'{{"campaign_id":{i}}}' for i in ids])


def orders(*pairs: tuple[str, str]) -> Batch:
    return Batch(None, [k for k, _ in pairs],
                 [f'{{"order_id":"{k}","cv":"{cv}"}}' for k, cv in pairs])


def api_calls(emulator: IqmEmulator, path: str) -> list[Any]:
    """The recorded requests to ``path``."""
    return [c for c in emulator.calls if c.path == path]
