"""A local RQ Data Connect (``offramp emulate rq``), following reference D.3.

Serves, for GET and POST (POST parameters in the form body, the URL winning):

* ``GET /session`` with ``Authorization: Basic base64(user:pass)``: the
  ``basic_token`` and ``PreferredEndpoint`` (reference C.2);
* ``/partner/relationships``: the related companies (:data:`fixtures.COMPANIES`);
* ``/partner/FacebookOfflineConversions/MarketingReport``: the rows of a company
  between ``StartDate`` (included) and ``StopDate`` (excluded by default), local
  wall-clock times without a zone (:mod:`plugins.rq.emulator_dates`: zone-bearing
  dates are refused by default), from deterministic demo data with a hidden sale time
  per row (the report has no time column).

It checks what the real API checks: auth in the documented priority
(``Authorization: Bearer`` > ``Authorization: Basic <basic token>`` > ``?Auth=``, 401
otherwise), required parameters and dates (400), companies outside the partner's
relationships (403), and the concurrency limit: more than ``max_in_flight`` (8)
requests in flight for one company answer 429 ``Rate Limiting Applied. 8 active
requests are already in progress.`` It answers in every ``Response=`` format
(Json, JsonDataTable, Xml, XmlDataTable, Csv, Excel) with gzip or deflate when
``Accept-Encoding`` asks, and no ``Content-Encoding`` otherwise.

The 400/401/403 bodies reuse the documented 429 shape ``{"Error": true, "Message":
...}``: an assumption, since no other error body is published (reference C.4 GAP).

Test tools: :meth:`RqEmulator.hold` / :meth:`release` keep requests in flight so
concurrency is observable without sleeping; :attr:`peak_in_flight`;
:meth:`set_rows` to replace a company-day's rows; :meth:`expire` a token;
:meth:`break_gzip` to truncate the next compressed answers; plus the base class's
:meth:`inject` for 429/503/timeouts/dropped connections.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypedDict
from urllib.parse import parse_qs

from connector.kit.emulator import CONTROL, Connection, Emulator, Request, Response
from plugins.rq import fixtures
from plugins.rq.emulator_dates import BadDate, DateRules
from plugins.rq.render import render
from plugins.rq.schema import COLUMNS

RELATIONSHIPS = "/partner/relationships"
REPORT = "/partner/facebookofflineconversions/marketingreport"
SESSION = "/session"
RELATIONSHIP_COLUMNS = (("CompanyID", "INT"), ("CompanyName", "VARCHAR(50)"),
                        ("DoingBusinessAs", "VARCHAR(50)"))
REPORT_COLUMNS = tuple((name, sql) for name, _, sql in COLUMNS)
#: Response= value (any case) -> render format.
RESPONSES = {"json": "json", "jsondatatable": "jsondatatable", "xml": "xml",
             "xmldatatable": "xmldatatable", "csv": "csv", "excel": "excel"}
DEMO_BEARER = "rq-demo-bearer-token"
DEMO_BASIC = "rq-demo-basic-token"
DEMO_USER = ("partner@example.com", "demo-password")


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"Error": True, "Message": message}, headers or {})


def accepted_encoding(header: str | None) -> str | None:
    """``gzip`` or ``deflate`` when ``Accept-Encoding`` allows it (gzip preferred)."""
    allowed = set()
    for part in (header or "").split(","):
        token, _, params = part.strip().partition(";")
        q = params.strip()
        if q.startswith("q=") and q[2:].strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        allowed.add(token.strip().lower())
    for encoding in ("gzip", "deflate"):
        if encoding in allowed:
            return encoding
    return None


class _Options(TypedDict):
    """The constructor's options, which :meth:`RqEmulator.reset` goes back to."""

    bearer_tokens: set[str]
    basic_tokens: set[str]
    max_in_flight: int
    latency: float
    csv_quoting: str
    numbers_as_strings: bool
    scale: int
    dates: DateRules


class RqEmulator(Emulator):
    """RQ Data Connect on 127.0.0.1. See the module docstring for what it checks.

    :param bearer_tokens: accepted bearer tokens.
    :param basic_tokens: accepted basic tokens (header or ``Auth=``).
    :param max_in_flight: concurrent requests allowed per company (the API's 8).
    :param latency: seconds each request stays in flight (0: none).
    :param csv_quoting: ``none`` (like the seed's sample) or ``minimal``.
    :param numbers_as_strings: render JSON numbers as strings (the older examples).
    :param scale: multiply the demo rows per day (for large result sets).
    :param zones: a date with a zone or offset is ``"reject"``-ed (400, the default),
        its zone ``"ignore"``-d, or ``"convert"``-ed to ``store_zone``.
    :param stop: ``"exclusive"`` (default) or ``"inclusive"``: is a sale at exactly
        ``StopDate`` in the report?
    :param store_zone: the store database's zone, for ``zones="convert"``.
    """

    name: ClassVar[str] = "rq"

    def __init__(self, *, port: int = 0, clock: Callable[[], float] = time.time,
                 bearer_tokens: Iterable[str] = (DEMO_BEARER,),
                 basic_tokens: Iterable[str] = (DEMO_BASIC,), max_in_flight: int = 8,
                 latency: float = 0.0, csv_quoting: str = "none",
                 numbers_as_strings: bool = False, scale: int = 1, zones: str = "reject",
                 stop: str = "exclusive", store_zone: str = "America/Vancouver"):
        super().__init__(port=port, clock=clock)
        self._options: _Options = {
            "bearer_tokens": set(bearer_tokens), "basic_tokens": set(basic_tokens),
            "max_in_flight": max_in_flight, "latency": latency, "csv_quoting": csv_quoting,
            "numbers_as_strings": numbers_as_strings, "scale": scale,
            "dates": DateRules(zones=zones, stop=stop, store_zone=store_zone)}
        self._flight = threading.Lock()
        self._in_flight: dict[str, int] = {}
        self._total = 0
        self._gate = threading.Event()
        self.reset()

    def reset(self) -> None:
        """Back to the state after construction: options, data, faults, counters, log."""
        with self.lock:
            options = self._options
            self.bearer_tokens: set[str] = set(options["bearer_tokens"])
            self.basic_tokens: set[str] = set(options["basic_tokens"])
            self.max_in_flight: int = options["max_in_flight"]
            self.latency: float = options["latency"]
            self.csv_quoting: str = options["csv_quoting"]
            self.numbers_as_strings: bool = options["numbers_as_strings"]
            self.scale: int = options["scale"]
            #: how StartDate and StopDate are read (zones, the stop bound): emulator_dates
            self.dates: DateRules = options["dates"]
            self.expired: set[str] = set()
            self.related = {c.id for c in fixtures.COMPANIES}
            self.overrides: dict[tuple[int, dt.date], list[tuple[dt.datetime, dict]]] = {}
            self.encodings: list[str] = []  # Content-Encoding of each 200 answer
            self.calls.clear()
            self.clear_faults()
            self._broken_gzip = 0
            with self._flight:
                self.throttled = 0
                self.peak_in_flight = 0
                self.peak_by_company: dict[str, int] = {}
            self._gate.set()

    # -- test tools --------------------------------------------------------------------
    def hold(self) -> None:
        """Keep every request that arrives in flight until :meth:`release`."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    @property
    def in_flight(self) -> int:
        with self._flight:
            return self._total

    def set_rows(self, company_id: int, day: dt.date, rows: list[dict[str, Any]]) -> None:
        """Replace the rows of one company-day (each sold at noon)."""
        noon = dt.datetime.combine(day, dt.time(12))
        with self.lock:
            self.overrides[(company_id, day)] = [(noon, dict(r)) for r in rows]

    def set_sales(self, company_id: int, sales: list[tuple[dt.datetime, dict[str, Any]]]) -> None:
        """Replace the rows of the days ``sales`` fall on; each row is sold at its own local
        time (to test the bounds of a window, a sale at exactly midnight, say)."""
        days: dict[dt.date, list[tuple[dt.datetime, dict]]] = {}
        for when, row in sales:
            days.setdefault(when.date(), []).append((when, dict(row)))
        with self.lock:
            self.overrides.update({(company_id, day): rows for day, rows in days.items()})

    def expire(self, token: str) -> None:
        """Make ``token`` answer 401 ``expired`` from now on."""
        with self.lock:
            self.expired.add(token)

    def break_gzip(self, times: int = 1) -> None:
        """Truncate the next ``times`` compressed answers (a broken stream)."""
        with self.lock:
            self._broken_gzip += times

    def rows_for(self, company_id: int, day: dt.date) -> list[dict[str, Any]]:
        """The rows a one-day request for ``company_id`` gets (for assertions)."""
        with self.lock:
            return [row for _, row in self._day(company_id, day)]

    def connection(self) -> Connection:
        """The bearer token the emulator accepts, and its URL for ``[sources.rq]``."""
        token = sorted(self._options["bearer_tokens"])[0]
        return Connection(env={"RQ_TOKEN": token}, settings={"base_url": self.url},
                          place="[sources.rq] of offramp.toml")

    def snapshot(self) -> dict[str, Any]:
        return {"requests": len(self.calls), "throttled": self.throttled,
                "peak_in_flight": self.peak_in_flight, "peak_by_company": self.peak_by_company,
                "encodings": self.encodings[-50:]}

    # -- concurrency: counted around the whole request, outside the base's lock ---------
    def _dispatch(self, request: Request) -> Response | None:
        if request.path.startswith(CONTROL):
            return super()._dispatch(request)
        key = self._params(request).get("CompanyID") or "partner"
        with self._flight:
            busy = self._in_flight.get(key, 0)
            over = busy >= self.max_in_flight
            if over:
                self.throttled += 1
            else:
                self._in_flight[key] = busy + 1
                self._total += 1
                self.peak_in_flight = max(self.peak_in_flight, self._total)
                self.peak_by_company[key] = max(self.peak_by_company.get(key, 0), busy + 1)
        if over:
            with self.lock:
                self.calls.append(request)
            return error(429, f"Rate Limiting Applied. {self.max_in_flight} active requests "
                              "are already in progress.")
        try:
            self._gate.wait(timeout=30)
            if self.latency:
                time.sleep(self.latency)
            return super()._dispatch(request)
        finally:
            with self._flight:
                self._in_flight[key] -= 1
                self._total -= 1

    # -- the API ---------------------------------------------------------------------------
    @staticmethod
    def _params(request: Request) -> dict[str, str]:
        """Query and form parameters (the URL wins), names matched as sent."""
        params: dict[str, str] = {}
        if request.method == "POST" and request.body:
            try:
                form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                form = {}
            params.update({k: v[0] for k, v in form.items()})
        params.update({k: v[0] for k, v in request.query.items() if v})
        return params

    def handle(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return error(405, "Only GET and POST are supported.")
        path = request.path.rstrip("/").lower()
        if path == SESSION:
            return self._session(request)
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        params = self._params(request)
        if path == RELATIONSHIPS:
            rows = [{"CompanyID": c.id, "CompanyName": c.name,
                     "DoingBusinessAs": c.doing_business_as}
                    for c in fixtures.COMPANIES if c.id in self.related]
            return self._answer(request, params, rows, RELATIONSHIP_COLUMNS)
        if path == REPORT:
            return self._report(request, params)
        return error(404, f"No resource matches {request.path}.")

    def _session(self, request: Request) -> Response:
        header = request.header("Authorization") or ""
        scheme, _, value = header.partition(" ")
        try:
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
        except ValueError:
            user = password = ""
        if scheme.lower() != "basic" or (user, password) != DEMO_USER:
            return error(401, "Authorization has been denied for this request.",
                         {"WWW-Authenticate": 'Basic realm="RQ Data Connect"'})
        return Response(200, {"access_token": DEMO_BEARER, "isValid": True,
                              "ParentEntityId": 21090, "RQEmployeeId": 3494,
                              "basic_token": sorted(self.basic_tokens)[0],
                              "PreferredEndpoint": self.url})

    def _authenticate(self, request: Request) -> Response | None:
        """Bearer, then Basic <basic token>, then ?Auth= (reference C.2 priority)."""
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer":
            valid = token in self.bearer_tokens
        elif scheme.lower() == "basic":
            valid = token in self.basic_tokens
        else:
            token = self._params(request).get("Auth", "")
            valid = token in self.basic_tokens
        if not token:
            return error(401, "Authorization has been denied for this request.",
                         {"WWW-Authenticate": 'Basic realm="RQ Data Connect"'})
        if valid and token in self.expired:
            return error(401, "The access token has expired.")
        if not valid:
            return error(401, "Authorization has been denied for this request.")
        return None

    def _day(self, company_id: int, day: dt.date) -> list[tuple[dt.datetime, dict]]:
        if (company_id, day) in self.overrides:
            return self.overrides[(company_id, day)]
        return fixtures.rows_for(company_id, day, self.scale)

    def _report(self, request: Request, params: dict[str, str]) -> Response:
        missing = [p for p in ("CompanyID", "StartDate", "StopDate") if not params.get(p)]
        if missing:
            return error(400, f"Missing required parameter(s): {', '.join(missing)}.")
        try:
            company_id = int(params["CompanyID"])
        except ValueError:
            return error(400, "CompanyID must be an integer.")
        try:
            start = self.dates.parse("StartDate", params["StartDate"])
            stop = self.dates.parse("StopDate", params["StopDate"])
        except BadDate as exc:
            return error(400, str(exc))
        if stop < start:
            return error(400, "StopDate is before StartDate.")
        if company_id not in self.related:
            return error(403, f"You do not have a relationship with company {company_id}.")
        rows = []
        day = start.date()
        while day <= stop.date():
            rows += [row for when, row in self._day(company_id, day)
                     if self.dates.includes(when, start, stop)]
            day += dt.timedelta(days=1)
        return self._answer(request, params, rows, REPORT_COLUMNS, day=start.date().isoformat())

    def _answer(self, request: Request, params: dict[str, str], rows: list[dict[str, Any]],
                columns: tuple[tuple[str, str], ...], day: str = "") -> Response:
        fmt = RESPONSES.get(params.get("Response", "Json").lower())
        if fmt is None:
            return error(400, f"Unknown Response option {params.get('Response')!r}.")
        body, headers = render(rows, columns, fmt, csv_quoting=self.csv_quoting,
                               numbers_as_strings=self.numbers_as_strings, day=day,
                               report_name="MarketingReport")
        session = hashlib.sha256((request.header("Authorization") or params.get("Auth", ""))
                                 .encode()).hexdigest()[:24]
        headers["Set-Cookie"] = f"ASP.NET_SessionId={session}; path=/; HttpOnly"
        encoding = accepted_encoding(request.header("Accept-Encoding"))
        if encoding == "gzip":
            body = gzip.compress(body, mtime=0)
        elif encoding == "deflate":
            body = zlib.compress(body)
        if encoding:
            headers["Content-Encoding"] = encoding
            if self._broken_gzip > 0:
                self._broken_gzip -= 1
                body = body[: max(1, len(body) // 2)]
        self.encodings.append(encoding or "identity")
        return Response(200, body, headers)
