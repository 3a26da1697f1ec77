"""Fixtures for the Meta emulator tests: a clock tests can move, a running
emulator, a valid event builder and a sender that speaks like Meta's SDK."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from plugins.meta.emulator import DEFAULT_TOKEN, MetaEmulator

NOW = 1_760_000_000


class Clock:
    """A settable clock (epoch seconds)."""

    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture(scope="session")
def shared_clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def shared_emu(shared_clock: Clock) -> Iterator[MetaEmulator]:
    """One server per test process: stopping one takes up to half a second (the
    base's serve_forever poll interval), so tests share it and reset it."""
    with MetaEmulator(clock=shared_clock) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def clock(shared_clock: Clock) -> Clock:
    shared_clock.now = NOW
    return shared_clock


@pytest.fixture
def emu(shared_emu: MetaEmulator, clock: Clock) -> Iterator[MetaEmulator]:
    """The shared emulator, fresh: nothing recorded, no faults, no expired tokens."""
    shared_emu.reset()
    yield shared_emu
    shared_emu.reset()


@pytest.fixture
def make_event(clock: Clock) -> Callable[..., dict[str, Any]]:
    """A valid physical-store Purchase an hour old; keyword arguments replace fields."""

    def make(order_id: str = "order-1", **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_name": "Purchase",
            "event_time": int(clock.now) - 3600,
            "action_source": "physical_store",
            "event_id": f"evt-{order_id}",
            "user_data": {"em": [sha("jane@example.com")], "ph": [sha("16505551212")],
                          "external_id": [sha("cust-42")]},
            "custom_data": {"value": 42.5, "currency": "USD", "order_id": order_id,
                            "contents": [{"id": "sku-1", "quantity": 2, "item_price": 21.25}],
                            "num_items": 1},
        }
        event.update(copy.deepcopy(fields))
        return event

    return make


@pytest.fixture
def send(emu: MetaEmulator) -> Callable[..., requests.Response]:
    """POST events the way Meta's SDK does (urlencoded form, ``data`` as JSON text)."""

    def post(events: Any, *, token: str | None = DEFAULT_TOKEN, dataset: str = "1234567890",
             version: str = "v26.0", as_json: bool = False, timeout: float = 5,
             **fields: Any) -> requests.Response:
        url = f"{emu.url}/{version}/{dataset}/events"
        body: dict[str, Any] = dict(fields)
        if token is not None:
            body["access_token"] = token
        if as_json:
            body["data"] = events
            return requests.post(url, json=body, timeout=timeout)
        body["data"] = events if isinstance(events, str) else json.dumps(events)
        return requests.post(url, data=body, timeout=timeout)

    return post
