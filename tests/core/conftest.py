"""Fixtures for the core's tests: the warehouse schema, a sink API and its destination.

The ``sink`` destination is a small but complete API plugin written the way plugin
authors write theirs: it POSTs each request as a JSON array to a local emulator
(a real HTTP server on 127.0.0.1) and classifies the answer: 2xx with per-event
rejections, 400 (the request refused for events it does not name), 401 (bad
token: fatal), 429 (throttled, ``Retry-After``), 5xx (transient).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connector import (
    Batch,
    BatchRejected,
    Column,
    Contract,
    Destination,
    Emulator,
    Fatal,
    Limits,
    Outcome,
    Request,
    Response,
    Retryable,
    Settings,
    hookimpl,
    shaped_schema,
)
from connector.engines.warehouse import Engine, Warehouse
from connector.kit import http as offramp_http
from connector.kit.events import SOURCE_ROWS


@pytest.fixture(scope="session")
def warehouse_schema(_warehouse_template: Path) -> dict[str, dict[str, str]]:
    """table -> {column: DuckDB type} of the test warehouse, read through the Engine."""
    with Engine(Warehouse("duckdb", _warehouse_template)) as engine:
        return engine.schema()


class SinkEmulator(Emulator):
    """Accepts ``POST /events/<route>`` with a JSON array of ``{"key": ..., ...}``.

    * ``bad``: keys that make the whole request fail with 400 without naming them;
    * ``refuse``: key -> reason, refused one by one in a 200 answer;
    * ``token``: the token required, as ``Authorization: Bearer`` or as the
      ``access_token`` query parameter (a 401 echoes what it got, the way careless
      APIs do, so that redaction is tested); ``echo_credentials`` makes every error
      and rejection echo it too;
    * ``received``: key -> times accepted; ``requests``: the keys of each request
      that reached :meth:`handle`, in order.
    """

    name = "sink"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.bad: set[str] = set()
        self.refuse: dict[str, str] = {}
        self.token: str | None = None
        self.echo_credentials = False
        self.received: Counter[str] = Counter()
        self.routes: Counter[str] = Counter()
        self.requests: list[list[str]] = []

    def handle(self, request: Request) -> Response:
        got = request.arg("access_token") or request.header("authorization", "")
        if self.token is not None and got not in (self.token, f"Bearer {self.token}"):
            return Response(401, {"error": f"invalid credentials: {got}"})
        echo = f" (credentials: {got})" if self.echo_credentials else ""
        events = request.json()
        keys = [str(event["key"]) for event in events]
        self.requests.append(keys)
        if self.bad & set(keys):
            return Response(400, {"error": f"the request holds an invalid event{echo}"})
        route = request.path.removeprefix("/events/")
        rejected = {}
        for i, key in enumerate(keys):
            if key in self.refuse:
                rejected[str(i)] = self.refuse[key] + echo
            else:
                self.received[key] += 1
                self.routes[route] += 1
        return Response(200, {"accepted": len(keys) - len(rejected), "rejected": rejected})

    def snapshot(self) -> dict[str, Any]:
        return {"received": dict(self.received)}


class SinkSettings(Settings):
    url: str
    token_env: str = "SINK_TOKEN"
    max_events: int = 100
    max_bytes: int = 1_000_000
    concurrency: int = 2
    max_attempts: int = 3
    give_up_after: float = 300.0
    rate_per_second: float | None = None
    #: reject rows without an id in SQL (off: leave it to the core)
    guard_nulls: bool = True
    #: every event goes to this route (like a dataset id in a destination's settings)
    route: str | None = None
    #: send the token as ?access_token=... (as Meta's Graph API takes it), not a header
    token_in_query: bool = False
    #: a column whose NULLs give a NULL payload and no reject reason (a plugin bug)
    null_payload_when_null: str | None = None


class SinkDestination(Destination):
    """Every row with an ``id`` is one event; an optional ``route`` column picks the path."""

    name = "sink"
    summary = "Test sink over HTTP"
    contract = Contract(required=(Column("id", "any"),),
                        optional=(Column("route", "text"),))
    Settings = SinkSettings
    events_schema = shaped_schema(SOURCE_ROWS)
    #: every instance, so that tests can look at what a run saw
    instances: list[SinkDestination] = []

    def __init__(self, settings: SinkSettings, context: Any):
        super().__init__(settings, context)
        self.limits = Limits(max_events=settings.max_events, max_bytes=settings.max_bytes,
                             concurrency=settings.concurrency,
                             max_attempts=settings.max_attempts,
                             give_up_after=settings.give_up_after,
                             rate_per_second=settings.rate_per_second, timeout=5.0)
        self.token = ""
        self.opened = self.closed = False
        SinkDestination.instances.append(self)

    def shape_sql(self, source: str, columns: dict[str, str]) -> str:
        route = "CAST(src.route AS VARCHAR)" if "route" in columns else "NULL::VARCHAR"
        if self.settings.route:
            route = "'" + self.settings.route.replace("'", "''") + "'"
        guard = "src.id IS NULL" if self.settings.guard_nulls else "FALSE"
        if self.settings.null_payload_when_null:
            guard = f"({guard} OR src.{self.settings.null_payload_when_null} IS NULL)"
        return (f"SELECT CAST(src.id AS VARCHAR) AS event_key, {route} AS route, "
                f"CASE WHEN NOT ({guard}) THEN json_object('key', CAST(src.id AS VARCHAR), "
                f"'row', to_json(src))::VARCHAR END AS payload, "
                f"CASE WHEN {guard} AND {self.settings.null_payload_when_null is None} "
                f"THEN 'id is missing' END AS reject_reason, "
                f"1 AS source_rows FROM {source} AS src")

    def open(self, http: Any) -> None:
        super().open(http)
        self.token = self.secret(self.settings.token_env).reveal()
        self.opened = True

    def close(self) -> None:
        self.closed = True

    def deliver(self, batch: Batch) -> Outcome:
        assert self.http is not None
        if self.settings.token_in_query:
            auth = {"params": {"access_token": self.token}, "headers": {}}
        else:
            auth = {"params": {}, "headers": {"Authorization": f"Bearer {self.token}"}}
        response = offramp_http.send(
            self.http, "POST", f"{self.settings.url}/events/{batch.route or 'default'}",
            data=self.encode(batch), timeout=self.limits.timeout, params=auth["params"],
            headers={**auth["headers"], "Content-Type": "application/json"})
        if response.status_code == 429:
            raise Retryable("the sink is throttling", throttled=True,
                            retry_after=offramp_http.retry_after(response))
        if response.status_code >= 500:
            raise Retryable(f"the sink answered {response.status_code} for {response.url}",
                            retry_after=offramp_http.retry_after(response))
        if response.status_code == 401:
            raise Fatal(f"the sink refused the token ({response.text}): "
                        f"check {self.settings.token_env}")
        if response.status_code == 400:
            raise BatchRejected(response.json()["error"])
        body = response.json()
        return Outcome(rejected={int(i): r for i, r in body["rejected"].items()},
                       info={"accepted": body["accepted"]})


class SinkPlugin:
    @hookimpl
    def register_destinations(self, register: Callable[[type], None]) -> None:
        register(SinkDestination)


@pytest.fixture
def sink(registered: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[SinkEmulator]:
    """A started sink emulator, the ``sink`` destination registered, ``SINK_TOKEN`` set."""
    registered(SinkPlugin(), name="sink-plugin")
    monkeypatch.setenv("SINK_TOKEN", "sink-test-token-0001")
    SinkDestination.instances.clear()
    with SinkEmulator() as emulator:
        assert isinstance(emulator, SinkEmulator)
        emulator.token = "sink-test-token-0001"
        yield emulator


class Sleeps:
    """A recording ``sleep``: nothing waits, every wait is kept (thread-safe)."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
