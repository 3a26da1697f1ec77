"""Shared fixtures for the RQ Data Connect source tests: a running emulator, a
source wired to it with a recording sleep and a fixed clock, warehouses."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connector.engines.warehouse import Warehouse, WarehouseWriter
from connector.kit.http import session
from connector.kit.warehouse import SourceWriter
from plugins.rq.emulator import DEMO_BASIC, DEMO_BEARER, RqEmulator
from plugins.rq.source import RqSettings, RqSource

NOW = dt.datetime(2024, 5, 20, 12, 0, tzinfo=dt.UTC)
KENTEL, PRAIRIE, LAKESHORE = 14682, 21090, 30517
DAY = dt.date(2024, 5, 1)
TOKEN_ENV = "RQ_TEST_TOKEN"


class Sleeps(list):
    """An injected sleep: records each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Recorder:
    """A WarehouseWriter stand-in that keeps every replace() call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, pa.Table, dict[str, Any]]] = []

    def replace(self, table: str, data: pa.Table, *, where: dict[str, Any]) -> int:
        self.calls.append((table, data, dict(where)))
        return data.num_rows

    def table(self) -> pa.Table:
        """All windows, ordered by company then window."""
        parts = sorted(self.calls, key=lambda c: (c[2]["company_id"], c[2]["window_start"]))
        return pa.concat_tables([data for _, data, _ in parts])


@pytest.fixture(scope="session")
def emu_server() -> Iterator[RqEmulator]:
    """One emulator per test process (stopping one takes the server's 0.5 s poll)."""
    with RqEmulator() as emulator:
        assert isinstance(emulator, RqEmulator)
        yield emulator


@pytest.fixture
def emu(emu_server: RqEmulator) -> RqEmulator:
    """The emulator, reset to its initial state for this test."""
    emu_server.reset()
    return emu_server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


class Harness:
    """What the tests need, as one fixture: the emulator, the recorded sleeps, and
    helpers to build a source and pull with it."""

    NOW = NOW
    DAY = DAY
    KENTEL, PRAIRIE, LAKESHORE = KENTEL, PRAIRIE, LAKESHORE
    TOKEN_ENV = TOKEN_ENV
    Recorder = Recorder

    def __init__(self, emu: RqEmulator, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch):
        self.emu = emu
        self.sleeps = sleeps
        self.monkeypatch = monkeypatch

    def source(self, *, token: str | None = None, now: dt.datetime = NOW,
               **settings: Any) -> RqSource:
        """A source pointed at the emulator; the token goes in ``RQ_TEST_TOKEN``."""
        auth = settings.get("auth", "bearer")
        value = token if token is not None else (DEMO_BEARER if auth == "bearer" else DEMO_BASIC)
        self.monkeypatch.setenv(TOKEN_ENV, value)
        settings.setdefault("base_url", self.emu.url)
        settings.setdefault("token_env", TOKEN_ENV)
        settings.setdefault("timeout", 5.0)
        return RqSource(RqSettings(**settings), session(), sleep=self.sleeps, now=lambda: now)

    @staticmethod
    def pull(source: RqSource, writer: Any, start: dt.date = DAY, stop: dt.date | None = None,
             **options: Any) -> Any:
        """Run one pull like ``offramp pull rq --from start --to stop [options]``: through
        the writer of the source's declared tables, over ``writer``."""
        declared = SourceWriter(source.name, source.tables(), writer)
        return source.pull(writer=declared, start=start, stop=stop or start, options=options)

    def record(self, source: RqSource, start: dt.date = DAY, stop: dt.date | None = None,
               **options: Any) -> tuple[Any, Recorder]:
        """Pull into a :class:`Recorder`; returns (summary, recorder)."""
        recorder = Recorder()
        return self.pull(source, recorder, start, stop, **options), recorder

    def write(self, source: RqSource, wh: Warehouse, start: dt.date = DAY,
              stop: dt.date | None = None, **options: Any) -> Any:
        """Pull into a real warehouse (DuckDB file or Parquet folder)."""
        with WarehouseWriter(wh) as writer:
            return self.pull(source, writer, start, stop, **options)

    def report_calls(self) -> list[Any]:
        return [c for c in self.emu.calls if c.path.endswith("/MarketingReport")]

    @staticmethod
    def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll ``condition`` every millisecond (no fixed sleeps)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            time.sleep(0.001)


@pytest.fixture
def rq(emu: RqEmulator, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> Harness:
    return Harness(emu, sleeps, monkeypatch)


@pytest.fixture(params=["duckdb", "parquet"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    if request.param == "duckdb":
        return Warehouse("duckdb", tmp_path / "warehouse.duckdb")
    return Warehouse("parquet", tmp_path / "exports")
