"""Shared fixtures for the IQM tests: a fake clock, a running emulator, credentials
in the environment, and a factory for opened destinations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from connector import RunContext
from connector.kit.http import session
from plugins.iqm import IqmDestination, IqmEmulator, IqmSettings
from tests.iqm.iqm_support import NOW, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[IqmEmulator]:
    with IqmEmulator(clock=clock) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {"IQM_CLIENT_ID": IqmEmulator.CLIENT_ID,
              "IQM_CLIENT_SECRET": IqmEmulator.CLIENT_SECRET,
              "IQM_USERNAME": IqmEmulator.EMAIL, "IQM_PASSWORD": IqmEmulator.PASSWORD}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def http() -> Iterator[requests.Session]:
    s = session()
    yield s
    s.close()


Make = Callable[..., IqmDestination]


@pytest.fixture
def make(emu: IqmEmulator, clock: FakeClock, creds: dict[str, str],
         http: requests.Session) -> Make:
    """``make(mode=..., open=True, prepare=True, **settings)``: a destination wired to the
    emulator, opened and prepared (logged in, conversion ensured) unless told otherwise."""

    def factory(mode: str = "assign", open: bool = True, prepare: bool = True,
                **overrides: Any) -> IqmDestination:
        values: dict[str, Any] = {"mode": mode, "conversion_name": "Offline orders",
                                  "workspace_host": emu.HOST, "base_url": emu.url}
        if mode == "events":  # events mode is opt-in (see test_iqm_events_opt_in.py)
            values["allow_unattributed_pixel_fires"] = True
        values.update(overrides)
        dest = IqmDestination(IqmSettings(**values), RunContext(job="iqm-test", now=NOW))
        dest.clock = clock
        dest.sleep = clock.sleep
        if open:
            dest.open(http)
            if prepare:
                dest.prepare()
        return dest

    return factory
