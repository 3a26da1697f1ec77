"""A local emulator of Google's Data Manager API for offline conversions.

Routes: ``POST /token`` (OAuth 2.0, :mod:`plugins.google.emulator_auth`),
``POST /v1/events:ingest`` and ``GET /v1/requestStatus:retrieve?requestId=...``. A request
is authenticated (401/403 in Google's error shape), read as proto3 JSON
(:mod:`plugins.google.emulator_schema`), checked for account access (403) and by the
API's fast-fail rules (:mod:`plugins.google.emulator_rules`): one bad event fails the
whole request with 400 INVALID_ARGUMENT naming the field. Accepted events are processed
at once (:mod:`plugins.google.emulator_status`) and their outcome shows in the request
status after it leaves ``PROCESSING``. Sources and guesses: ``docs/google-emulator.md``.

Use it as ``with GoogleEmulator(clock=...) as emu:`` and send to ``emu.url``.
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from connector.kit import Emulator, Fault, Request, Response
from connector.kit.emulator import Connection
from plugins.google import emulator_errors as errors
from plugins.google import emulator_rules as rules
from plugins.google import emulator_schema as schema
from plugins.google.emulator_auth import (
    DEFAULT_ACCOUNT,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_TOKEN,
    SCOPE,
    Authority,
    new_service_account,
)
from plugins.google.emulator_faults import GoogleFaults
from plugins.google.emulator_status import Ingested, Processing, Record, status_of

CONTROL = "/__emulator__"
INGEST, STATUS = "/v1/events:ingest", "/v1/requestStatus:retrieve"
_METHODS = {INGEST: errors.INGEST_METHOD, STATUS: errors.STATUS_METHOD}


class GoogleEmulator(GoogleFaults, Emulator):
    """The Data Manager API on 127.0.0.1.

    :param accounts: operating/login account ids the caller may use, each with the
        conversion action ids (``productDestinationId``) it has, or None for any.
    :param token_lifetime: seconds of ``clock`` an issued access token lives.
    :param processing_polls: retrieve calls that answer ``PROCESSING`` before the result.
    :param processing_seconds: seconds of ``clock`` a request stays ``PROCESSING``.
    :param max_age_days: events older than this fail with ``EVENT_TOO_OLD``.
    :param default_consent: the account's ad-user-data consent for events without any
        (None: ``UNKNOWN_CONSENT``).
    :param camel_case_paths: field paths in errors in JSON names, not proto names.
    :param quota_per_minute / quota_per_day: project quotas per operation (None: off).
    """

    name = "google"

    def __init__(self, *, port: int = 0, clock: Callable[[], float] = time.time,
                 accounts: dict[str, Iterable[str] | None] | None = None,
                 tokens: Iterable[str] = (DEFAULT_TOKEN,), token_lifetime: float = 3599,
                 processing_polls: int = 1, processing_seconds: float = 0.0,
                 max_age_days: float = 90.0, default_consent: str | None = "CONSENT_GRANTED",
                 camel_case_paths: bool = False, limits: rules.Limits | None = None,
                 quota_per_minute: int | None = 300, quota_per_day: int | None = 100_000):
        super().__init__(port=port, clock=clock)
        accounts = {DEFAULT_ACCOUNT: None} if accounts is None else accounts
        self.accounts = {str(k): None if v is None else {str(x) for x in v}
                         for k, v in accounts.items()}
        self.auth = Authority(token_lifetime)
        for token in tokens:
            self.auth.add_static(token)
        self.auth.add_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN)
        self.processing_polls = processing_polls
        self.processing_seconds = processing_seconds
        self.camel_case_paths = camel_case_paths
        self.limits = limits or rules.Limits()
        self.quota = {"minute": quota_per_minute, "day": quota_per_day}
        self._max_age_days, self._default_consent = max_age_days, default_consent
        self._reset_state()

    def _reset_state(self) -> None:
        self.processing = Processing(self._max_age_days, self._default_consent)
        self._requests: dict[str, Ingested] = {}
        self._log: list[dict[str, Any]] = []
        self._usage: dict[tuple[str, str, int], int] = {}
        self._lose_responses = 0

    # -- inspection ------------------------------------------------------------------------
    def records(self, request_id: str | None = None) -> list[Record]:
        """Every processed event per destination, with its processing error (or None)."""
        with self.lock:
            return [copy.deepcopy(r) for ingested in self._requests.values()
                    for r in ingested.records
                    if request_id is None or r.request_id == request_id]

    def events(self, product_destination_id: str | None = None) -> list[dict[str, Any]]:
        """Events recorded without a processing error, oldest first (copies)."""
        return [r.event for r in self.records() if r.error is None and (
            product_destination_id is None or r.product_destination_id == product_destination_id)]

    def errors(self) -> dict[str, int]:
        """Processing errors so far: reason -> count."""
        counts: dict[str, int] = {}
        for record in self.records():
            if record.error:
                counts[record.error] = counts.get(record.error, 0) + 1
        return counts

    @property
    def requests(self) -> list[dict[str, Any]]:
        """One entry per API call: path, status, request id, events, the error (no tokens)."""
        with self.lock:
            return copy.deepcopy(self._log)

    @property
    def counts(self) -> dict[str, int]:
        with self.lock:
            accepted = sum(1 for e in self._log if e["path"] == INGEST and e["status"] == 200)
            rejected = sum(1 for e in self._log if e["path"] == INGEST and e["status"] != 200)
            records = [r for i in self._requests.values() for r in i.records]
            return {"requests_accepted": accepted, "requests_rejected": rejected,
                    "events_recorded": sum(1 for r in records if r.error is None),
                    "events_failed": sum(1 for r in records if r.error),
                    "tokens_issued": self.auth.issued}

    def connection(self) -> Connection:
        """The emulator's OAuth client and refresh token, and its URLs."""
        return Connection(env={"GOOGLE_ADS_CLIENT_ID": DEFAULT_CLIENT_ID,
                               "GOOGLE_ADS_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
                               "GOOGLE_ADS_REFRESH_TOKEN": DEFAULT_REFRESH_TOKEN},
                          settings={"operating_account_id": DEFAULT_ACCOUNT,
                                    "base_url": self.url, "token_uri": self.token_uri()})

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {"counts": self.counts, "errors": self.errors(), "requests": self.requests,
                    "records": [vars(r) for r in self.records()]}

    # -- configuration helpers -------------------------------------------------------------
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def add_service_account(self, email: str = "offramp@emulator.iam.gserviceaccount.com",
                            public_key_pem: bytes | str | None = None) -> dict[str, str] | None:
        """Trust a service account. Without a key, make one and return the key file's
        JSON (its ``token_uri`` is this emulator's) for google-auth to read."""
        with self.lock:
            if public_key_pem is not None:
                self.auth.add_service_account(email, public_key_pem)
                return None
            info, public = new_service_account(email, self.token_uri())
            self.auth.add_service_account(email, public)
            return info

    def add_client(self, client_id: str, client_secret: str, refresh_token: str,
                   scopes: Iterable[str] = (SCOPE,)) -> None:
        with self.lock:
            self.auth.add_client(client_id, client_secret, refresh_token, tuple(scopes))

    def issue_token(self, scopes: Iterable[str] = (SCOPE,)) -> str:
        """A fresh access token, as the token endpoint would issue it."""
        with self.lock:
            return self.auth.issue("test", frozenset(scopes), self.clock())

    def clear_faults(self) -> None:
        with self.lock:
            super().clear_faults()
            self.processing.poisoned.clear()
            self._lose_responses = 0

    def reset(self) -> None:
        """Forget requests, events, dedup keys, quota use, faults, issued tokens and
        revocations; keep the settings, clients, service accounts and static tokens."""
        with self.lock:
            self.clear_faults()
            self.calls.clear()
            self.auth.forget()
            self._reset_state()

    # -- the API ----------------------------------------------------------------------------
    def handle(self, request: Request) -> Response | None:
        if request.path == "/token":
            return self.auth.token_endpoint(request, self.clock(), self.token_uri())
        entry: dict[str, Any] = {"method": request.method, "path": request.path}
        try:
            response = self._serve(request, entry)
        except errors.GoogleError as error:
            entry["error"] = error.summary()
            response = error.response()
        entry["status"] = response.status
        self._log.append(entry)
        if self._lose_responses > 0:
            self._lose_responses -= 1
            return None
        return response

    def _serve(self, request: Request, entry: dict[str, Any]) -> Response:
        route = {("POST", INGEST): self._ingest, ("GET", STATUS): self._status}
        handler = route.get((request.method, request.path))
        if handler is None:
            raise errors.not_found(request.path)
        self.auth.check(request, self.clock(), _METHODS[request.path])
        self._spend_quota("mutate" if request.path == INGEST else "read")
        return handler(request, entry)

    def _spend_quota(self, operation: str) -> None:
        now = self.clock()
        for window, seconds in (("day", 86_400), ("minute", 60)):
            limit = self.quota[window]
            key = (operation, window, int(now // seconds))
            if limit is not None and self._usage.get(key, 0) >= limit:
                retry = seconds - now % seconds if window == "minute" else None
                raise errors.quota_exceeded(operation, window, retry)
        for window, seconds in (("day", 86_400), ("minute", 60)):
            key = (operation, window, int(now // seconds))
            self._usage[key] = self._usage.get(key, 0) + 1

    def _ingest(self, request: Request, entry: dict[str, Any]) -> Response:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise errors.bad_json("", "Invalid JSON payload received. Unexpected token.") \
                from None
        path = schema.Path(self.camel_case_paths)
        parsed = schema.parse(body, self.camel_case_paths)
        entry["events"] = len(parsed.get("events", []))
        rules.check_destinations(parsed, path, self.limits)
        self._authorize(parsed, path)
        now = self.clock()
        warnings = rules.check(parsed, path, now, self.limits)
        request_id = str(uuid.uuid4())
        validate_only = bool(parsed.get("validateOnly"))
        entry.update(request_id=request_id, validate_only=validate_only)
        ingested = Ingested(request_id, parsed["destinations"], now, validate_only)
        if not validate_only:
            self._process(ingested, parsed, now)
            self._requests[request_id] = ingested
        answer: dict[str, Any] = {"requestId": request_id}
        if warnings:
            answer["fieldWarnings"] = warnings
        return Response(200, answer)

    def _authorize(self, parsed: dict[str, Any], path: schema.Path) -> None:
        for i, destination in enumerate(parsed.get("destinations", [])):
            for role in ("loginAccount", "operatingAccount"):
                account = destination.get(role) or {}
                account_id = account.get("accountId")
                if account_id and account_id not in self.accounts:
                    kind = account.get("accountType") or account.get("product") or "GOOGLE_ADS"
                    raise errors.permission_denied(f"accountTypes/{kind}/accounts/{account_id}",
                                                   "operating account" if role ==
                                                   "operatingAccount" else "login account")
            known = self.accounts.get((destination.get("operatingAccount") or {}).get(
                "accountId", ""))
            action = destination.get("productDestinationId")
            if known is not None and action and action not in known:
                where = path / "destinations" / i / "productDestinationId"
                raise errors.invalid(str(where), "INVALID_CONVERSION_ACTION_ID",
                                     "The conversion action does not exist in the operating "
                                     "account.")

    def _process(self, ingested: Ingested, parsed: dict[str, Any], now: float) -> None:
        references = [d.get("reference") for d in ingested.destinations]
        consent = parsed.get("consent") or {}
        for event in parsed["events"]:
            wanted = event.get("destinationReferences") or []
            for index, destination in enumerate(ingested.destinations):
                if wanted and references[index] not in wanted:
                    continue
                record = Record(ingested.request_id, index,
                                destination["operatingAccount"]["accountId"],
                                destination["productDestinationId"], copy.deepcopy(event))
                record.error = self.processing.outcome(record, consent, now)
                ingested.records.append(record)

    def _status(self, request: Request, entry: dict[str, Any]) -> Response:
        request_id = request.arg("requestId") or request.arg("request_id")
        entry["request_id"] = request_id
        if not request_id:
            raise errors.invalid("request_id", "REQUIRED_FIELD_MISSING", "request_id is required.")
        ingested = self._requests.get(request_id)
        if ingested is None:
            raise errors.invalid("request_id", "INVALID_REQUEST_ID",
                                 "No request with this id, or it was a validate_only request.")
        ingested.polls += 1
        final = ingested.polls > self.processing_polls and \
            self.clock() >= ingested.received_at + self.processing_seconds
        return Response(200, status_of(ingested, final))

    # -- control API ------------------------------------------------------------------------
    def control(self, request: Request) -> Response | None:
        """``POST /__emulator__/google/<action>`` with the keyword arguments as JSON, for the
        fault helpers, ``issue_token``, ``add_client``, ``clear_faults`` and ``reset``."""
        prefix = f"{CONTROL}/google/"
        if not request.path.startswith(prefix) or request.method != "POST":
            return None
        action = request.path[len(prefix):]
        if action not in CONTROL_ACTIONS:
            return Response(404, {"error": f"unknown action {action!r}; use one of "
                                           f"{', '.join(CONTROL_ACTIONS)}"})
        try:
            result = getattr(self, action)(**(request.json() or {}))
        except (TypeError, ValueError) as exc:
            return Response(400, {"error": str(exc)})
        if isinstance(result, Fault):
            result = {"status": result.status, "times": result.times, "path": result.path,
                      "delay": result.delay, "drop": result.drop, "headers": result.headers}
        return Response(200, {"ok": True, "result": result})


CONTROL_ACTIONS = ("unauthenticated", "permission_denied", "rate_limit", "server_error",
                   "timeout", "drop_connections", "lose_responses", "expire_token",
                   "revoke_refresh_token", "fail_event", "issue_token", "add_client",
                   "clear_faults", "reset")
