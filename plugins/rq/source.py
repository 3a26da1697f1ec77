"""``offramp pull rq``: the Marketing Report of RQ Data Connect into the warehouse.

For each company (given with ``--company``, set in ``[sources.rq] companies``, or
listed by ``GET /partner/relationships``) and each day from ``--from`` to ``--to``,
one ``GET /partner/FacebookOfflineConversions/MarketingReport`` asks for that day
``[D 00:00:00, D+1 00:00:00)``. The report has no time column, so the day window
is the event date. Each answer is parsed, typed and written with
:meth:`connector.engines.warehouse.WarehouseWriter.replace` keyed on ``company_id`` and
``window_start``: re-pulling a window replaces it, and an empty day writes zero
rows, which clears what an earlier pull stored for that window.

At most ``max_in_flight`` (8, the API's limit per database) requests run at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import click
import pyarrow as pa
import pydantic
import requests

from connector.kit import (
    BaseUrl,
    ConfigError,
    PluginTable,
    PullSummary,
    Seconds,
    Settings,
    Source,
)
from plugins.rq.client import Client, RqApiError
from plugins.rq.emulator import RqEmulator
from plugins.rq.formats import RESPONSE_PARAM, FormatError, parse
from plugins.rq.schema import SCHEMA, to_table

if TYPE_CHECKING:
    from connector.kit.warehouse import SourceWriter

log = logging.getLogger("offramp.rq")

Format = Literal["json", "jsondatatable", "xml", "xmldatatable", "csv"]
FORMATS: tuple[str, ...] = tuple(RESPONSE_PARAM)
#: The production host of the original documentation (reference C.1); the newer
#: ``https://dataconnect.iqmetrix.net`` and sandbox hosts are set with ``base_url``.
DEFAULT_BASE_URL = "https://rqdataconnect.iqmetrix.net"


class RqSettings(Settings):
    """``[sources.rq]`` in offramp.toml."""

    base_url: BaseUrl = pydantic.Field(DEFAULT_BASE_URL, description="the API host (or the "
                                   "PreferredEndpoint that GET /session returns)")
    auth: Literal["bearer", "basic", "basic_token"] = pydantic.Field(
        "bearer", description="bearer: Authorization: Bearer; basic: Authorization: Basic "
        "<basic token>; basic_token: the basic token as the Auth= URL parameter")
    token_env: str = pydantic.Field("RQ_TOKEN", description="environment variable holding "
                                    "the bearer or basic token")
    format: Format = pydantic.Field("json", description="the Response= format to ask for")
    gzip: bool = pydantic.Field(True, description="ask for gzip-compressed answers")
    table: str = pydantic.Field("rq_marketing_report", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                description="the warehouse table to write")
    companies: list[int] = pydantic.Field(default_factory=list, description="company ids to "
                                          "pull when --company is not given (empty: list the "
                                          "partner relationships)")
    max_in_flight: int = pydantic.Field(8, ge=1, le=8, description="requests at once (the API "
                                        "allows 8 per database)")
    timeout: Seconds = pydantic.Field(120.0, description="seconds to wait for one answer")
    max_attempts: int = pydantic.Field(8, ge=1, description="attempts per request for "
                                       "429/503/timeouts")
    backoff: float = pydantic.Field(1.0, ge=0, description="first wait between attempts "
                                    "(doubles each time, at most 60 s) when no Retry-After")


@dataclass
class Window:
    """One company-day, fetched and typed, ready to write."""

    company_id: int
    start: dt.datetime
    table: pa.Table
    rejected: list[tuple[str, str]] = field(default_factory=list)
    repaired: int = 0
    unknown_columns: set[str] = field(default_factory=set)


class _Aborted(Exception):
    """Another window failed: stop waiting to retry this one."""


def api_time(moment: dt.datetime) -> str:
    """A window bound as the API's date parameters take it (``2024-05-01T00:00:00``).

    No zone is sent: the RQ database's local time applies (reference C.1 GAP)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def days(start: dt.date, stop: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``stop``, both included."""
    return [start + dt.timedelta(days=n) for n in range((stop - start).days + 1)]


class RqSource(Source):
    """iQmetrix RQ Data Connect: the Marketing Report (Facebook Offline Conversions)."""

    name: ClassVar[str] = "rq"
    summary: ClassVar[str] = "iQmetrix RQ Data Connect Marketing Report, one window per company-day"
    Settings: ClassVar[type[Settings]] = RqSettings
    emulator: ClassVar[type[RqEmulator]] = RqEmulator

    def __init__(self, settings: pydantic.BaseModel, http: requests.Session, *,
                 sleep: Callable[[float], None] | None = None,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)):
        """``sleep`` waits between attempts (default: a wait that a failure elsewhere in
        the pull cuts short); ``now`` gives ``pulled_at``. Tests inject both."""
        super().__init__(settings, http)
        self.sleep = sleep
        self.now = now
        self._abort = threading.Event()

    @property
    def config(self) -> RqSettings:
        assert isinstance(self.settings, RqSettings)
        return self.settings

    @classmethod
    def cli_options(cls) -> list[click.Parameter]:
        return [
            click.Option(["--company", "company"], type=int, multiple=True, metavar="ID",
                         help="RQ company id to pull (repeat for several); default: every "
                              "company in the partner relationships"),
            click.Option(["--format", "format"], type=click.Choice(FORMATS), default=None,
                         help="the Response= format to ask for (default: the setting, json)"),
        ]

    def client(self) -> Client:
        """A client for this source's account (reads the token from its env var)."""
        s = self.config
        return Client(self.http, base_url=s.base_url, auth=s.auth, token=self.secret(s.token_env),
                      gzip_on=s.gzip, timeout=s.timeout, max_attempts=s.max_attempts,
                      backoff=s.backoff, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        if self.sleep is None:
            if self._abort.wait(seconds):
                raise _Aborted()
            return
        if self._abort.is_set():
            raise _Aborted()
        self.sleep(seconds)

    def tables(self) -> tuple[PluginTable, ...]:
        """The report's table (``[sources.rq] table``): one window per company and day."""
        return (PluginTable(self.config.table, SCHEMA, key=("company_id", "window_start")),)

    def pull(self, *, writer: SourceWriter, start: dt.date, stop: dt.date,
             options: dict[str, Any]) -> PullSummary:
        s = self.config
        if stop < start:
            raise ConfigError(f"--to {stop} is before --from {start}: swap them")
        fmt = str(options.get("format") or s.format).lower()
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        client = self.client()
        summary = PullSummary(rows={s.table: 0})
        companies = [int(c) for c in options.get("company") or ()] or list(s.companies)
        if not companies:
            companies = [c.id for c in client.relationships()]
            summary.notes.append(f"{len(companies)} companies listed by the partner "
                                 "relationships")
        pulled_at = self.now()
        self._abort.clear()
        pool = ThreadPoolExecutor(max_workers=s.max_in_flight, thread_name_prefix="rq-pull")
        try:
            futures: list[Future[Window]] = [
                pool.submit(self._fetch, client, company, day, fmt, pulled_at)
                for company in dict.fromkeys(companies) for day in days(start, stop)]
            repaired: dict[int, int] = {}
            unknown: set[str] = set()
            for future in as_completed(futures):
                window = future.result()
                self._write(writer, window, summary)
                if window.repaired:
                    repaired[window.company_id] = (repaired.get(window.company_id, 0)
                                                   + window.repaired)
                unknown |= window.unknown_columns
        except BaseException:
            self._abort.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for company, count in sorted(repaired.items()):
            summary.notes.append(f"company {company}: repaired {count} CSV row(s) whose Category "
                                 "held an unquoted comma")
        if unknown:
            names = ", ".join(sorted(_safe(c) for c in unknown))
            summary.notes.append(f"ignored columns the report schema does not know: {names}")
        return summary

    def _fetch(self, client: Client, company: int, day: dt.date, fmt: str,
               pulled_at: dt.datetime) -> Window:
        start = dt.datetime.combine(day, dt.time())
        stop = start + dt.timedelta(days=1)
        where = f"company {company}, window {day.isoformat()}"
        body = client.report(company, api_time(start), api_time(stop), RESPONSE_PARAM[fmt],
                             where=where)
        try:
            parsed = parse(body.data, fmt, body.content_type)
        except FormatError as exc:
            raise RqApiError(f"could not read the {fmt} answer for {where}: {exc}; try another "
                             "--format", where=where) from None
        typed = to_table(parsed.rows, company_id=company, window_start=start, window_stop=stop,
                         pulled_at=pulled_at)
        rejected = [(f"{where}, {label}", reason) for label, reason in parsed.rejected]
        rejected += [(f"{where}, {parsed.labels[i - 1]}", reason) for i, reason in typed.rejected]
        log.debug("%s: %d rows, %d rejected", where, typed.table.num_rows, len(rejected))
        return Window(company, start, typed.table, rejected, parsed.repaired,
                      typed.unknown_columns)

    def _write(self, writer: SourceWriter, window: Window, summary: PullSummary) -> None:
        (table,) = self.tables()
        written = writer.replace(table, window.table, where={"company_id": window.company_id,
                                                             "window_start": window.start})
        summary.rows[table.name] = summary.rows.get(table.name, 0) + written
        summary.windows += 1
        summary.rejected.extend(window.rejected)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "?", name)[:60]
