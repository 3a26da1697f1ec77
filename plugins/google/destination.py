"""The google destination: offline conversions to Google Ads through the Data Manager
API (``POST {base_url}/v1/events:ingest``), with request diagnostics from
``requestStatus:retrieve``. See docs/google.md.

A request carries one destination (the operating account, the optional login account
and the route's conversion action as ``productDestinationId``) and at most 2,000 events.
The API is fast-fail: one bad event fails the whole request, and the error names it
(``events[N]...``). The destination then rejects that event with Google's reason and
sends the rest again, which finds k bad events in k + 1 requests; an error that names
no event becomes :class:`~connector.kit.BatchRejected`, and the core bisects.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Any, ClassVar

import requests

from connector.kit import (
    Batch,
    Destination,
    Limits,
    Outcome,
    PluginTables,
    RunContext,
    RunSummary,
    shaped_schema,
)
from connector.kit.events import LINE_ITEM_REASONS, REJECT_TIMED, SOURCE_KEY, SOURCE_ROWS
from plugins.google import requests_table
from plugins.google.auth import Tokens
from plugins.google.client import Client, Pacer
from plugins.google.columns import CONTRACT, order_key
from plugins.google.emulator import GoogleEmulator
from plugins.google.errors import classify, event_reason, read_error
from plugins.google.settings import GoogleSettings
from plugins.google.shaping import shape_sql
from plugins.google.status import poll

#: Events per request ("At most 2000": ingestion_service.proto, the limits page).
MAX_EVENTS = 2000
#: The route prefix of a validate_only run (see :meth:`GoogleDestination.shape_sql`).
VALIDATE_ONLY = "validate-only:"
VALIDATED = ("validate_only: Google checked this event and found nothing wrong, and "
             "recorded nothing; set validate_only = false to send it")


class GoogleDestination(Destination):
    name = "google"
    summary = "Google Ads offline conversions (Data Manager API events:ingest)"
    contract = CONTRACT
    Settings = GoogleSettings
    emulator = GoogleEmulator
    limits = Limits(max_events=MAX_EVENTS, max_bytes=10_000_000, concurrency=4,
                    max_attempts=6, give_up_after=600.0, timeout=60.0)
    #: Groups by order_id: one event per order.
    unique_keys = True
    #: Google deduplicates by transaction id and conversion action and cannot update a
    #: conversion through events:ingest: a changed payload sent again would only come
    #: back as DUPLICATE_TRANSACTION_ID. A delivered event is never sent again.
    resend_changed = False
    events_schema = shaped_schema(SOURCE_ROWS, SOURCE_KEY, REJECT_TIMED)
    #: Returned lines and rows without an order id are refused one by one: line items.
    line_item_reasons = LINE_ITEM_REASONS
    tables = (requests_table.REQUESTS,)
    #: How the after-run status polls and the request pacing wait, and the clock the
    #: status wait is measured on (tests replace them together, so that a recorded sleep
    #: also moves the clock and a bounded wait ends after the same polls on any machine).
    status_sleep: ClassVar[staticmethod[[float], None]] = staticmethod(time.sleep)
    status_clock: ClassVar[staticmethod[[], float]] = staticmethod(time.monotonic)
    pacer_sleep: ClassVar[staticmethod[[float], None]] = staticmethod(time.sleep)

    settings: GoogleSettings

    def __init__(self, settings: GoogleSettings, context: RunContext):
        super().__init__(settings, context)
        self.limits = Limits(max_events=MAX_EVENTS, max_bytes=10_000_000,
                             concurrency=settings.concurrency, max_attempts=6,
                             give_up_after=600.0, timeout=settings.timeout)
        self.client: Client | None = None
        self._sent: list[dict[str, Any]] = []
        self._sent_lock = threading.Lock()
        self._prefixes: dict[str, str] = {}

    # -- shaping -----------------------------------------------------------------------
    def shape_sql(self, source: str, columns: dict[str, str]) -> str:
        """The shaping query (:mod:`plugins.google.shaping`). With ``validate_only``, the
        routes are prefixed (``validate-only:<action>``): the ledger then keeps the
        validated events apart, and a later run without it sends them all."""
        sql = shape_sql(source, columns, self.settings, self.context.now)
        if not self.settings.validate_only:
            return sql
        return (f"SELECT * REPLACE ('{VALIDATE_ONLY}' || route AS route) FROM ({sql}) "
                "AS validated")

    def source_key(self, columns: dict[str, str]) -> str:
        """Events are made per order, from that order's rows and the settings alone; the
        clock only decides reject reasons (future, too old)."""
        return order_key(columns)

    # -- requests ----------------------------------------------------------------------
    def _prefix(self, route: str | None) -> str:
        """The request's JSON up to its events, for one conversion action."""
        action = (route or self.settings.conversion_action_id or "").removeprefix(
            VALIDATE_ONLY)
        if action not in self._prefixes:
            s = self.settings
            destination: dict[str, Any] = {"operatingAccount": {
                "accountType": "GOOGLE_ADS", "accountId": s.operating_account_id}}
            if s.login_account_id:
                destination["loginAccount"] = {"accountType": "GOOGLE_ADS",
                                               "accountId": s.login_account_id}
            destination["productDestinationId"] = action
            request: dict[str, Any] = {"destinations": [destination], "encoding": s.encoding}
            if s.request_consent():
                request["consent"] = s.request_consent()
            if s.validate_only:
                request["validateOnly"] = True
            self._prefixes[action] = json.dumps(request, separators=(",", ":"))[:-1]
        return self._prefixes[action]

    def _body(self, route: str | None, events: bytes) -> bytes:
        """The request: its prefix and ``events``, the events' JSON array."""
        return b"".join((self._prefix(route).encode(), b',"events":', events, b"}"))

    def encode(self, batch: Batch) -> bytes:
        return self._body(batch.route, batch.array_bytes())

    # -- delivery ----------------------------------------------------------------------
    def open(self, http: requests.Session) -> None:
        super().open(http)
        tokens = Tokens(self.settings, self.secret)
        self.client = Client(self.settings, http, tokens,
                             pacer=Pacer(self.settings.requests_per_minute, self.pacer_sleep))

    def deliver(self, batch: Batch) -> Outcome:
        assert self.client is not None, "open() was not called"
        live = list(range(len(batch)))
        rejected: dict[int, str] = {}
        while live:
            events = (batch.array_bytes() if len(live) == len(batch) else
                      ("[" + ",".join(batch.payloads[i] for i in live) + "]").encode())
            response = self.client.ingest(self._body(batch.route, events))
            if response.ok:
                request_id = self._accepted(response, batch.route, len(live))
                if self.settings.validate_only:
                    rejected.update({i: VALIDATED for i in live})
                return Outcome(rejected=rejected, info={"request_id": request_id})
            error = read_error(response)
            named = error.event() if response.status_code == 400 else None
            if named is None or not 0 <= named[0] < len(live):
                raise classify(response, error, accounts=self.client.accounts(),
                               scope_hint=self.client.scope_hint())
            rejected[live.pop(named[0])] = event_reason(named[1], error)
        return Outcome(rejected=rejected)

    def _accepted(self, response: requests.Response, route: str | None, events: int) -> str:
        """Keep an accepted request's id for the status checks after the run."""
        try:
            request_id = str((response.json() or {}).get("requestId") or "")
        except ValueError:
            request_id = ""
        if request_id and not self.settings.validate_only:
            with self._sent_lock:
                self._sent.append(requests_table.sent_row(
                    self.context.job, 0, request_id, route or "", events,
                    dt.datetime.now(dt.UTC)))
        return request_id

    # -- after the run -----------------------------------------------------------------
    def after_run(self, summary: RunSummary, tables: PluginTables) -> list[str]:
        """Keep the accepted requests' ids in ``google_requests``, then poll their status
        for up to ``status_wait_seconds`` while Google processes them."""
        with self._sent_lock:
            rows = [{**row, "run_id": summary.run_id} for row in self._sent]
            self._sent.clear()
        if not rows:
            return []
        requests_table.write(tables, rows)
        if self.settings.status_wait_seconds > 0 and self.client is not None:
            client = self.client
            rows = poll(rows, lambda rid: client.retrieve(rid, sleep=self.status_sleep),
                        wait=self.settings.status_wait_seconds, sleep=self.status_sleep,
                        clock=self.status_clock,
                        keep=lambda updated: requests_table.write(tables, updated))
        return requests_table.summary_lines(rows)

    @classmethod
    def describe_state(cls, tables: PluginTables, job: str) -> list[str]:
        """What ``offramp runs JOB`` adds under the runs: the requests' statuses."""
        return requests_table.summary_lines(requests_table.read(tables, job))
