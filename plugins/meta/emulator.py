"""A local emulator of Meta's Conversions API: ``POST /{api_version}/{dataset_id}/events``.

It validates requests the way Meta does (token, API version, dataset, at most
1,000 events, every per-event rule in :mod:`plugins.meta.emulator_rules`), rejects
a whole request when any event is invalid, deduplicates offline events, records
what it accepted for tests to inspect, and injects Meta-shaped faults. The rules,
their sources and the places where the emulator has to guess are in
``docs/meta-emulator.md``.

Use it in tests with ``with MetaEmulator(clock=...) as emu:`` and send to
``emu.url``; ``offramp emulate meta`` serves it in the foreground.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from connector.kit import Emulator, Fault, Request, Response
from connector.kit.emulator import CONTROL, Connection
from plugins.meta import emulator_errors as errors
from plugins.meta import emulator_rules as rules
from plugins.meta.emulator_answers import GARBLED, AnswerFaults, ProcessedAnswers
from plugins.meta.emulator_faults import MetaFaults, echoed
from plugins.meta.emulator_usage import UsageMeter

DEFAULT_TOKEN = "offramp-emulator-token"
#: Graph versions the emulator serves: v17.0 (the first without the Offline
#: Conversions API) to v26.0 (the version Meta's SDK 26.0.3 targets).
DEFAULT_VERSIONS = frozenset(f"v{major}.0" for major in range(17, 27))
MAX_EVENTS = 1000
#: The request-level fields Meta's SDK sends next to ``data``.
REQUEST_FIELDS = ("test_event_code", "upload_tag", "namespace_id", "upload_id", "upload_source",
                  "partner_agent")

_PATH = re.compile(r"/(?P<version>[^/]+)/(?P<dataset>[^/]+)/events/?")
_OBJECT = re.compile(r"/(?P<version>v[^/]+)/(?P<dataset>\d+)/?")
_VERSION = re.compile(r"v(\d+)\.(\d+)")


class MetaEmulator(MetaFaults, ProcessedAnswers, Emulator):
    """Meta's Conversions API on 127.0.0.1.

    :param tokens: access tokens that are valid (default ``{"offramp-emulator-token"}``).
    :param datasets: dataset ids that exist; None accepts any numeric id.
    :param versions: accepted API versions; older ones get Meta's "deprecated
        version" error (code 2635), unknown ones "Unknown path components".
    :param future_skew: seconds an ``event_time`` may lie ahead of the emulator clock.
    :param auth_status: HTTP status of token errors (code 190); Meta has been seen
        answering 400 and 401.
    :param legacy_datasets: dataset ids whose ``is_consolidated_container`` is false: they
        cannot take offline events through the Conversions API, and a POST to them gets
        code 100 subcode 33 (an assumption: Meta documents the field, not the error).
    """

    name = "meta"

    def __init__(self, *, port: int = 0, clock: Callable[[], float] = time.time,
                 tokens: Iterable[str] | None = None, datasets: Iterable[str] | None = None,
                 versions: Iterable[str] = DEFAULT_VERSIONS, future_skew: float = 60.0,
                 auth_status: int = 400, legacy_datasets: Iterable[str] = ()):
        super().__init__(port=port, clock=clock)
        self.legacy_datasets = {str(d) for d in legacy_datasets}
        #: the rate-limit model, when :meth:`rate_limit` turned it on
        self.meter: UsageMeter | None = None
        self.tokens = set(tokens) if tokens is not None else {DEFAULT_TOKEN}
        self.datasets = {str(d) for d in datasets} if datasets is not None else None
        self.versions = frozenset(versions)
        self.future_skew = future_skew
        self.auth_status = auth_status
        self._expired: dict[str, float] = {}
        self._poisoned: dict[str, rules.Problem] = {}
        self._lose_responses = 0
        #: faults of the answers of requests it processed (emulator_answers)
        self.answers = AnswerFaults()
        self._accepted: list[dict[str, Any]] = []
        self._seen: dict[tuple[Any, ...], float] = {}
        self._received = 0
        self._duplicates = 0
        self._requests_accepted = 0
        self._requests_rejected = 0
        self._log: list[dict[str, Any]] = []
        self._warnings: list[str] = []

    # -- inspection ------------------------------------------------------------------------
    def events(self, dataset_id: str | None = None) -> list[dict[str, Any]]:
        """Accepted events (one per dedup key), oldest first, optionally for one dataset."""
        with self.lock:
            return [copy.deepcopy(r["event"]) for r in self._accepted
                    if dataset_id is None or r["dataset_id"] == str(dataset_id)]

    @property
    def received_count(self) -> int:
        """Every event of every accepted request, duplicates included (as Meta's
        ``events_received`` counts them)."""
        with self.lock:
            return self._received

    @property
    def duplicates(self) -> int:
        """Events of accepted requests that Meta would drop as duplicates."""
        with self.lock:
            return self._duplicates

    @property
    def requests_accepted(self) -> int:
        with self.lock:
            return self._requests_accepted

    @property
    def requests_rejected(self) -> int:
        """Requests answered with a Graph error by validation (injected faults not counted)."""
        with self.lock:
            return self._requests_rejected

    @property
    def requests(self) -> list[dict[str, Any]]:
        """One entry per validated request: dataset, version, event count, the request-level
        fields (``test_event_code``, ``upload_tag`` ...) and the error, if any. No tokens."""
        with self.lock:
            return copy.deepcopy(self._log)

    @property
    def warnings(self) -> list[str]:
        """Things accepted but probably wrong (e.g. a hashed ``fbp``)."""
        with self.lock:
            return list(self._warnings)

    def connection(self) -> Connection:
        """The first token the emulator accepts, and its URL as the job's ``base_url``."""
        return Connection(env={"META_ACCESS_TOKEN": sorted(self.tokens)[0]},
                          settings={"base_url": self.url})

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "events": [copy.deepcopy(r) for r in self._accepted],
                "received_count": self._received,
                "duplicates": self._duplicates,
                "requests_accepted": self._requests_accepted,
                "requests_rejected": self._requests_rejected,
                "requests": copy.deepcopy(self._log),
                "warnings": list(self._warnings),
            }

    def clear_faults(self) -> None:
        """Forget queued faults, poisoned orders and lost, short, garbled or late answers
        (not expired tokens)."""
        with self.lock:
            super().clear_faults()
            self.answers.clear()
            self._poisoned.clear()
            self._lose_responses = 0

    def reset(self) -> None:
        """Forget everything: recorded events and requests, dedup keys, faults, poisoned
        orders and expired tokens. The settings (tokens, datasets ...) stay."""
        with self.lock:
            self.clear_faults()
            self.calls.clear()
            self._expired.clear()
            self._accepted.clear()
            self._seen.clear()
            self._log.clear()
            self._warnings.clear()
            self._received = self._duplicates = 0
            self._requests_accepted = self._requests_rejected = 0
            self.meter = None

    # -- the API ---------------------------------------------------------------------------
    def handle(self, request: Request) -> Response | None:
        """Validate one request; record it when accepted. Runs under ``self.lock``."""
        entry: dict[str, Any] = {"method": request.method, "path": request.path}
        try:
            self._charge()
            response = self._serve(request, entry)
        except errors.GraphError as error:
            self._requests_rejected += 1
            entry["error"] = error.summary()
            response = error.response()
        if self.meter is not None:
            match = _PATH.fullmatch(request.path) or _OBJECT.fullmatch(request.path)
            response.headers.update(self.meter.headers(self.clock(), match["dataset"]
                                                       if match else "0"))
        self._log.append(entry)
        if self._lose_responses > 0:
            self._lose_responses -= 1
            return None
        if response.status == 200 and "events" in entry:  # an accepted POST of events
            self.answers.hold()
            if self.answers.garble():
                return Response(200, GARBLED, {"Content-Type": "application/json"})
        return response

    def _dispatch(self, request: Request) -> Response | None:
        response = super()._dispatch(request)
        late = self.answers.held()  # set by handle() in this thread
        if late:
            time.sleep(late)  # outside the lock: other requests go on
            return None
        return response

    def _charge(self) -> None:
        """Count the request against the rate-limit model; refuse it when blocked."""
        if self.meter is not None and not self.meter.charge(self.clock()):
            raise errors.throttled(self.meter.code)

    def _serve(self, request: Request, entry: dict[str, Any]) -> Response:
        if request.method == "GET" and _OBJECT.fullmatch(request.path):
            return self._read_dataset(request)
        match = _PATH.fullmatch(request.path)
        if match is None:
            raise errors.unknown_path(request.path)
        version, dataset_id = match["version"], match["dataset"]
        entry.update(api_version=version, dataset_id=dataset_id)
        self._check_version(version, request.path)
        params = self._params(request)
        self._authorize(request, params)
        if request.method != "POST" or not self._exists(dataset_id) or (
                dataset_id in self.legacy_datasets):
            raise errors.unknown_object(dataset_id, request.method)
        for field in REQUEST_FIELDS:
            if params.get(field) is not None:
                entry[field] = str(params[field])
        events = self._data(params)
        entry["events"] = len(events)
        now = self.clock()
        for event in events:
            problem = rules.check_event(event, now, self.future_skew) or self._poison_of(event)
            if problem is not None:
                raise errors.invalid_event(problem.title, problem.message, problem.subcode)
        received = self.answers.received(len(events))
        self._record(dataset_id, events[:received], now)
        return Response(200, {"events_received": received, "messages": [],
                              "fbtrace_id": errors.fbtrace_id()})

    def _exists(self, dataset_id: str) -> bool:
        return dataset_id.isdigit() and (self.datasets is None or dataset_id in self.datasets)

    def _read_dataset(self, request: Request) -> Response:
        """``GET /{version}/{dataset}?fields=is_consolidated_container``: whether the dataset
        can take offline events through the Conversions API (Meta's offline-events page)."""
        match = _OBJECT.fullmatch(request.path)
        assert match is not None
        self._check_version(match["version"], request.path)
        self._authorize(request, self._params(request))
        dataset_id = match["dataset"]
        if not self._exists(dataset_id):
            raise errors.unknown_object(dataset_id, "GET")
        fields = [f for f in (request.arg("fields") or "").split(",") if f]
        answer: dict[str, Any] = {"id": dataset_id}
        if "is_consolidated_container" in fields:
            answer["is_consolidated_container"] = dataset_id not in self.legacy_datasets
        return Response(200, answer)

    def _check_version(self, version: str, path: str) -> None:
        if version in self.versions:
            return
        parsed = _VERSION.fullmatch(version)
        known = [_VERSION.fullmatch(v) for v in self.versions]
        majors = sorted(int(m[1]) for m in known if m)
        if parsed and majors and int(parsed[1]) < majors[0]:
            raise errors.deprecated_version(f"v{majors[-1]}.0")
        raise errors.unknown_path(path)

    def _params(self, request: Request) -> dict[str, Any]:
        """Query string and body parameters merged (the body wins), as Graph reads them."""
        params: dict[str, Any] = {k: v[0] for k, v in request.query.items() if v}
        if not request.body:
            return params
        content_type = (request.header("content-type") or "").lower()
        try:
            if "json" in content_type:
                body = request.json()
                if not isinstance(body, dict):
                    raise errors.param_error("The request body must be a JSON object.")
            else:
                body = request.form()
        except (ValueError, UnicodeDecodeError):
            raise errors.param_error("The request body could not be parsed.") from None
        params.update(body)
        return params

    def _authorize(self, request: Request, params: dict[str, Any]) -> None:
        token = params.get("access_token")
        header = request.header("authorization") or ""
        scheme, _, credential = header.partition(" ")
        if not token and scheme.lower() in ("bearer", "oauth"):
            token = credential.strip()
        if not token:
            raise errors.missing_token()
        if isinstance(token, str) and token in self._expired:
            raise errors.expired_token(self.auth_status, self._expired[token], self.clock())
        if not isinstance(token, str) or token not in self.tokens:
            raise errors.invalid_token(self.auth_status)

    def _data(self, params: dict[str, Any]) -> list[Any]:
        data = params.get("data")
        if data is None or data == "":
            raise errors.param_error("The parameter data is required")
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                raise errors.param_error("param data must be an array.") from None
        if not isinstance(data, list):
            raise errors.param_error("param data must be an array.")
        if not data:
            raise errors.param_error("param data must be a non-empty array.")
        if len(data) > MAX_EVENTS:
            raise errors.param_error(f"param data must contain at most {MAX_EVENTS} events; "
                                     f"this request has {len(data)}.")
        return data

    def _poison_of(self, event: dict[str, Any]) -> rules.Problem | None:
        if not self._poisoned:
            return None
        custom = event.get("custom_data") or {}
        problem = self._poisoned.get(str(custom.get("order_id")))
        return problem and echoed(problem, event)

    def _record(self, dataset_id: str, events: list[dict[str, Any]], now: float) -> None:
        self._requests_accepted += 1
        self._received += len(events)
        for event in events:
            key = rules.dedup_key(dataset_id, event)
            first = self._seen.get(key)
            if first is not None and now - first <= rules.DEDUP_WINDOW:
                self._duplicates += 1
                continue
            self._seen[key] = now
            self._accepted.append({"dataset_id": dataset_id, "event": copy.deepcopy(event)})
            self._warnings.extend(rules.warnings(event))

    # -- control API: Meta faults from another process --------------------------------------
    def control(self, request: Request) -> Response | None:
        """Adds ``POST /__emulator__/meta/<fault>`` (JSON body = keyword arguments) for
        throttle, transient, server_error, timeout, poison, expire_token,
        lose_responses, short_ack, garble_responses, answer_late, clear_faults and reset,
        to the base's control API."""
        prefix = f"{CONTROL}/meta/"
        if not request.path.startswith(prefix) or request.method != "POST":
            return None
        action = request.path[len(prefix):]
        if action not in _CONTROL_ACTIONS:
            return Response(404, {"error": f"unknown fault {action!r}; use one of "
                                           f"{', '.join(_CONTROL_ACTIONS)}"})
        try:
            kwargs = request.json() or {}
            result = getattr(self, action)(**kwargs)
        except (TypeError, ValueError) as exc:
            return Response(400, {"error": str(exc)})
        return Response(200, {"ok": True, "fault": _describe(result)})


_CONTROL_ACTIONS = ("throttle", "transient", "server_error", "timeout", "poison", "expire_token",
                    "lose_responses", "short_ack", "garble_responses", "answer_late",
                    "clear_faults", "reset", "deny", "rate_limit")


def _describe(result: Any) -> Any:
    if isinstance(result, Fault):
        return {"status": result.status, "body": result.body, "headers": result.headers,
                "delay": result.delay, "drop": result.drop, "times": result.times,
                "path": result.path}
    return None
