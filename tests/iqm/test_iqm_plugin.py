"""The plugin registers the destination, and the emulator's control API works over
HTTP (for ``offramp emulate iqm`` in another process)."""

from __future__ import annotations

import requests

import plugins.iqm
from connector import registry
from plugins.iqm import IqmDestination, IqmEmulator


def test_hookimpl_registers_the_destination():
    registered: list[type] = []
    plugins.iqm.register_destinations(register=registered.append)
    assert registered == [IqmDestination]
    # and through the entry point declared in pyproject.toml
    assert registry.destination("iqm") is IqmDestination
    assert IqmDestination.emulator is IqmEmulator and IqmEmulator.name == "iqm"


def test_contract_accepts_either_mode():
    columns = IqmDestination.contract.columns()
    assert {"campaign_id", "order_id", "timestamp", "value", "price", "quantity",
            "currency"} <= set(columns)
    ((first, second),) = IqmDestination.contract.one_of
    assert {first.name, second.name} == {"campaign_id", "order_id"}


def test_control_api_faults_and_state(make, emu):
    dest = make(mode="events")
    control = emu.url + "/__emulator__"
    assert requests.post(control + "/campaigns", json={"id": 1001, "status": "running"},
                         timeout=5).json() == {"id": 1001, "status": "running"}
    assert emu.campaigns[1001].status == "running"
    requests.post(control + "/expire-tokens", timeout=5)
    assert all(t.expires_at <= emu.clock() for t in emu.tokens.values())
    requests.post(control + "/hold", json={"on": True}, timeout=5)
    assert emu.users[emu.EMAIL].on_hold
    requests.post(control + "/faults", json={"status": 503, "path": "/i/pixel/"}, timeout=5)
    pixel = requests.get(dest.pixel.replace("{CONVERSION_VALUE}", "1"), timeout=5)
    assert pixel.status_code == 503
    pixel = requests.get(dest.pixel.replace("{CONVERSION_VALUE}", "2.5"), timeout=5)
    assert pixel.status_code == 200 and pixel.content == b""  # no word on attribution
    assert pixel.headers["Content-Type"].startswith("application/javascript")
    state = requests.get(control + "/state", timeout=5).json()
    assert state["campaigns"]["1001"] == "running"
    assert state["pixel_hits"][0]["cv"] == "2.5"
    assert state["conversions"][0]["name"] == "Offline orders"


def test_open_postback_route_stores_events(emu):
    url = emu.url + "/open"
    ok = requests.post(url, params={"pid": "segment", "pixel_id": "abc"},
                       json={"data": {"event": "Order Completed"}}, timeout=5)
    assert ok.json() == {"data": {"postEvent": True}}
    missing = requests.post(url, params={"pid": "segment"}, json={"data": {}}, timeout=5)
    assert missing.status_code == 400 and "PixelID is required" in missing.text
    assert emu.open_events[0]["pixel_id"] == "abc"
