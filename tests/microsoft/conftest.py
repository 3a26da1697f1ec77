"""Shared fixtures: a clocked emulator, credentials in the environment, a destination
opened against the emulator, and a temp DuckDB warehouse to shape rows in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from connector import Batch, RunContext
from connector.engines.warehouse import Engine, Warehouse
from connector.kit import http
from plugins.microsoft.destination import MicrosoftAdsDestination
from plugins.microsoft.emulator import (
    ACCESS_TOKEN,
    ACCOUNT_ID,
    CUSTOMER_ID,
    DEVELOPER_TOKEN,
    REFRESH_TOKEN,
    MicrosoftAdsEmulator,
)
from plugins.microsoft.settings import MicrosoftSettings

NOW = dt.datetime(2026, 10, 2, 12, 0, tzinfo=dt.UTC)


class Clock:
    """A settable clock (epoch seconds) for the emulator."""

    def __init__(self, now: dt.datetime = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now.timestamp()

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(scope="session")
def _server() -> Iterator[tuple[MicrosoftAdsEmulator, Clock]]:
    """One emulator per test process (stopping a server takes half a second)."""
    clock = Clock()
    with MicrosoftAdsEmulator(clock=clock) as emu:
        yield emu, clock  # type: ignore[misc]


@pytest.fixture
def clock(_server: tuple[MicrosoftAdsEmulator, Clock]) -> Clock:
    """The emulator's clock, set to NOW for each test."""
    _server[1].now = NOW
    return _server[1]


@pytest.fixture
def emulator(_server: tuple[MicrosoftAdsEmulator, Clock], clock: Clock
             ) -> MicrosoftAdsEmulator:
    """The emulator, reset to its fixtures for each test."""
    _server[0].reset()
    return _server[0]


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator's fixture credentials in the default environment variables."""
    monkeypatch.setenv("MSADS_DEVELOPER_TOKEN", DEVELOPER_TOKEN)
    monkeypatch.setenv("MSADS_ACCESS_TOKEN", ACCESS_TOKEN)
    monkeypatch.setenv("MSADS_REFRESH_TOKEN", REFRESH_TOKEN)
    monkeypatch.delenv("MSADS_CLIENT_SECRET", raising=False)


def settings_for(emulator: MicrosoftAdsEmulator | None = None, **overrides: Any
                 ) -> MicrosoftSettings:
    values: dict[str, Any] = {"customer_id": CUSTOMER_ID, "account_id": ACCOUNT_ID,
                              "conversion_name": "Store Sale"}
    if emulator is not None:
        values["base_url"] = emulator.url
        values["token_url"] = emulator.url + "/common/oauth2/v2.0/token"
    values.update(overrides)
    return MicrosoftSettings.model_validate(values)


MakeDest = Callable[..., MicrosoftAdsDestination]


@pytest.fixture
def make_dest(emulator: MicrosoftAdsEmulator, creds: None) -> Iterator[MakeDest]:
    """``make_dest(**settings)``: a destination opened against the emulator."""
    opened: list[MicrosoftAdsDestination] = []

    def make(*, open_it: bool = True, **overrides: Any) -> MicrosoftAdsDestination:
        dest = MicrosoftAdsDestination(settings_for(emulator, **overrides),
                                       RunContext("ms_job", NOW))
        if open_it:
            dest.open(http.session())
            opened.append(dest)
        return dest

    yield make
    for dest in opened:
        dest.close()


def make_conversion(**fields: Any) -> str:
    """One OfflineConversion payload as JSON text (defaults: a valid click conversion)."""
    import json

    values: dict[str, Any] = {"MicrosoftClickId": "f894f652ea334e739002f7167ab8f8e3",
                              "ConversionName": "Store Sale",
                              "ConversionTime": "2026-10-01T17:02:35Z",
                              "ConversionValue": 125.5, "ConversionCurrencyCode": "USD"}
    values.update(fields)
    return json.dumps({k: v for k, v in values.items() if v is not None})


def make_batch(*payloads: str) -> Batch:
    return Batch(None, [f"k{i}" for i in range(len(payloads))], list(payloads))


@pytest.fixture
def conversion() -> Callable[..., str]:
    """``conversion(**fields)``: one OfflineConversion as JSON text (None drops a field)."""
    return make_conversion


@pytest.fixture
def batch() -> Callable[..., Batch]:
    """``batch(*payloads)``: a Batch with keys k0, k1..."""
    return make_batch


@pytest.fixture
def settings() -> Callable[..., MicrosoftSettings]:
    """``settings(emulator=None, **overrides)``: valid settings for the fixture account."""
    return settings_for


class Shaper:
    """Runs a destination's shape_sql over a table in a temp DuckDB warehouse."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.n = 0

    def __call__(self, select: str, now: dt.datetime = NOW, **overrides: Any
                 ) -> list[dict[str, Any]]:
        """Shape the rows of ``select`` (DuckDB SQL); rows of event_key/payload/reason."""
        self.n += 1
        path = self.folder / f"wh{self.n}.duckdb"
        with duckdb.connect(str(path)) as con:
            con.execute(f"CREATE TABLE sales AS {select}").fetchall()
        settings = settings_for(None, **overrides)
        dest = MicrosoftAdsDestination(settings, RunContext("ms_job", now))
        with Engine(Warehouse("duckdb", path), temp_dir=self.folder / "tmp") as engine:
            query = "SELECT * FROM sales"
            columns = engine.describe(query)
            shape = dest.shape_sql(f"({query})", columns)
            table = engine.con.sql(
                f"SELECT * FROM ({shape}) ORDER BY event_key").to_arrow_table()
        return table.to_pylist()


@pytest.fixture
def shape(tmp_path: Path) -> Shaper:
    return Shaper(tmp_path)
