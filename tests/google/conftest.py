"""Fixtures for the Data Manager emulator tests: a clock tests can move, one running
emulator reset for each test, a valid request builder and senders."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from plugins.google.emulator import DEFAULT_ACCOUNT, DEFAULT_TOKEN, GoogleEmulator

#: Real time at import: google-auth signs its JWTs with the real clock.
NOW = float(int(time.time()))
ACTION = "555000111"


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


def rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="session")
def shared_clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def shared_emu(shared_clock: Clock) -> Iterator[GoogleEmulator]:
    """One server per test process, reset for each test (stopping one takes a while)."""
    with GoogleEmulator(clock=shared_clock) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def clock(shared_clock: Clock) -> Clock:
    shared_clock.now = NOW
    return shared_clock


@pytest.fixture
def emu(shared_emu: GoogleEmulator, clock: Clock) -> Iterator[GoogleEmulator]:
    """The shared emulator, fresh and with its default settings."""
    shared_emu.reset()
    yield shared_emu
    shared_emu.reset()
    shared_emu.accounts = {DEFAULT_ACCOUNT: None}
    shared_emu.processing_polls, shared_emu.processing_seconds = 1, 0.0
    shared_emu.camel_case_paths = False
    shared_emu.quota = {"minute": 300, "day": 100_000}


@pytest.fixture
def make_event(clock: Clock) -> Callable[..., dict[str, Any]]:
    """A valid offline conversion an hour old; keyword arguments replace fields."""

    def make(transaction_id: str = "order-1", **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "transactionId": transaction_id,
            "eventTimestamp": rfc3339(clock.now - 3600),
            "eventSource": "IN_STORE",
            "currency": "USD",
            "conversionValue": 42.5,
            "userData": {"userIdentifiers": [
                {"emailAddress": sha("jane@example.com")},
                {"phoneNumber": sha("+16505551212")},
                {"address": {"givenName": sha("jane"), "familyName": sha("doe"),
                             "regionCode": "US", "postalCode": "94043"}}]},
            "cartData": {"merchantId": "1234", "items": [
                {"merchantProductId": "sku-1", "quantity": "2", "unitPrice": 21.25}]},
        }
        event.update(copy.deepcopy(fields))
        return event

    return make


@pytest.fixture
def make_body(make_event: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """A valid IngestEventsRequest holding ``events`` (default: one event)."""

    def make(events: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "destinations": [{"operatingAccount": {"accountType": "GOOGLE_ADS",
                                                   "accountId": DEFAULT_ACCOUNT},
                              "productDestinationId": ACTION}],
            "events": [make_event()] if events is None else events,
            "encoding": "HEX",
            "consent": {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"},
        }
        body.update(copy.deepcopy(fields))
        return body

    return make


@pytest.fixture
def ingest(emu: GoogleEmulator) -> Callable[..., requests.Response]:
    """POST a body to events:ingest with a bearer token (None: no Authorization)."""

    def post(body: Any, *, token: str | None = DEFAULT_TOKEN,
             timeout: float = 60) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return requests.post(f"{emu.url}/v1/events:ingest", json=body, headers=headers,
                             timeout=timeout)

    return post


@pytest.fixture
def retrieve(emu: GoogleEmulator) -> Callable[..., requests.Response]:
    """GET requestStatus:retrieve for a request id."""

    def get(request_id: str | None, *, token: str | None = DEFAULT_TOKEN,
            param: str = "requestId") -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        params = {param: request_id} if request_id is not None else {}
        return requests.get(f"{emu.url}/v1/requestStatus:retrieve", params=params,
                            headers=headers, timeout=5)

    return get


@pytest.fixture
def final_status(retrieve: Callable[..., requests.Response]) -> Callable[[str], list[dict]]:
    """Poll until no destination is PROCESSING (at most 10 polls)."""

    def poll(request_id: str) -> list[dict]:
        for _ in range(10):
            statuses = retrieve(request_id).json()["requestStatusPerDestination"]
            if all(s["requestStatus"] != "PROCESSING" for s in statuses):
                return statuses
        raise AssertionError("still PROCESSING after 10 polls")

    return poll


@pytest.fixture
def detail() -> Callable[[requests.Response, str], dict[str, Any]]:
    """The first error detail of type ``google.rpc.<kind>`` of an error answer."""

    def find(response: requests.Response, kind: str) -> dict[str, Any]:
        for item in response.json()["error"].get("details", []):
            if item["@type"] == f"type.googleapis.com/google.rpc.{kind}":
                return item
        raise AssertionError(f"no {kind} detail in {response.json()}")

    return find


@pytest.fixture
def violation(detail: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """The first BadRequest field violation of an error answer."""
    return lambda response: detail(response, "BadRequest")["fieldViolations"][0]


# -- the destination ------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_credentials() -> Iterator[None]:
    """Each test fetches its own access token (credentials are shared per process)."""
    from plugins.google.auth import forget_credentials

    forget_credentials()
    yield
    forget_credentials()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[float]]:
    """The destination's pacing and status-poll sleeps, recorded instead of slept; the
    status wait's clock moves by the sleeps recorded, never by the machine's speed."""
    from plugins.google.destination import GoogleDestination

    seen: dict[str, list[float]] = {"pacer": [], "status": []}
    monkeypatch.setattr(GoogleDestination, "pacer_sleep", staticmethod(seen["pacer"].append))
    monkeypatch.setattr(GoogleDestination, "status_sleep", staticmethod(seen["status"].append))
    monkeypatch.setattr(GoogleDestination, "status_clock",
                        staticmethod(lambda: sum(seen["status"])))
    return seen


@pytest.fixture
def google_env(emu: GoogleEmulator, clock: Clock, monkeypatch: pytest.MonkeyPatch,
               waits) -> GoogleEmulator:
    """The emulator, with the OAuth client's variables set and no real sleeping. Its clock
    reads the real time when the test starts, as the runs' own clock does: google-auth
    signs a service account's assertion with the real time, which the emulator checks
    (a clock left at the session's start refuses it once the session is 5 minutes old)."""
    from tests.google.destination_support import ENV

    clock.now = float(int(time.time()))
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    return emu


@pytest.fixture
def gproject(tmp_path):
    from tests.google.destination_support import GoogleProject

    return GoogleProject(tmp_path / "g")


@pytest.fixture
def google_cli():
    """``google_cli(root, *args)``: ``offramp --project root ARGS`` in process, with the
    plugins' commands (``report google``) registered."""
    from click.testing import CliRunner

    from connector.cli.app import cli, register_plugin_commands

    register_plugin_commands()

    def invoke(root, *args: str):
        return CliRunner(env={"COLUMNS": "250"}).invoke(cli, ["--project", str(root), *args])

    return invoke
