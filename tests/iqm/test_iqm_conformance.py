"""offramp's conformance suite (connector.testing.check_destination), in both modes,
through the real pipeline: settings, delivery once, rejects with reasons, retry of a
503, secrets never shown, and no request for empty input."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from connector.testing import check_destination
from plugins.iqm import IqmDestination, IqmEmulator

ENV = {"IQM_CLIENT_ID": IqmEmulator.CLIENT_ID, "IQM_CLIENT_SECRET": IqmEmulator.CLIENT_SECRET,
       "IQM_USERNAME": IqmEmulator.EMAIL, "IQM_PASSWORD": IqmEmulator.PASSWORD}


@pytest.fixture
def real_time_emu() -> Iterator[IqmEmulator]:
    # The pipeline runs on the real clock; the suite makes ~15 calls, but the window is
    # the emulator's, shared by every run of the suite, so it is switched off here.
    with IqmEmulator(rate_limit=None) as emulator:
        yield emulator  # type: ignore[misc]


def settings(emu: IqmEmulator, mode: str) -> dict[str, object]:
    opt_in = {"allow_unattributed_pixel_fires": True} if mode == "events" else {}
    return {"mode": mode, "conversion_name": "Conformance", "workspace_host": emu.HOST,
            "base_url": emu.url, **opt_in}


def test_assign_mode_conforms(real_time_emu, tmp_path):
    emu = real_time_emu
    seen = check_destination(
        IqmDestination, settings=settings(emu, "assign"), emulator=emu, env=ENV,
        rows=[{"campaign_id": 1001}, {"campaign_id": 1002}],
        bad_rows=[{"campaign_id": -4}, {"campaign_id": 2001}],
        bad_settings={**settings(emu, "assign"), "view_days": 99}, workdir=tmp_path)
    assert set(seen) >= {"delivered once", "rejects have reasons", "retried",
                         "secrets never shown", "empty input"}
    assert emu.conversion_named("Conformance")[0].campaigns == {1001, 1002}
    assert len(emu.conversion_named("Conformance")) == 1


def test_events_mode_conforms(real_time_emu, tmp_path):
    emu = real_time_emu
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    seen = check_destination(
        IqmDestination, settings=settings(emu, "events"), emulator=emu, env=ENV,
        rows=[{"order_id": "A-1", "timestamp": yesterday, "value": 19.99}],
        bad_rows=[{"order_id": "A-2", "timestamp": yesterday, "value": -1.0}],
        bad_settings={**settings(emu, "events"), "conversion_type": "postback"},
        workdir=tmp_path)
    assert set(seen) >= {"delivered once", "rejects have reasons", "retried",
                         "secrets never shown", "empty input"}
    assert [hit["cv"] for hit in emu.pixel_hits][:1] == ["19.99"]
