"""Talking to RQ Data Connect: authentication, compression, retries, errors.

* Auth (reference C.2): ``bearer`` sends ``Authorization: Bearer <token>``;
  ``basic`` sends ``Authorization: Basic <basic token>``; ``basic_token`` sends the
  basic token as the ``Auth=`` URL parameter. The token comes from an environment
  variable, and no message, exception or log line of ours contains it (URLs are
  never quoted, server messages are passed through :func:`connector.kit.secrets.redact`).
* Compression (C.3): with ``gzip`` on we ask ``Accept-Encoding: gzip`` and decode
  the body ourselves, so that a truncated gzip stream is an error (retried) rather
  than silently short data; with it off we ask ``identity``. ``deflate`` is decoded too.
* Retries (C.4): 429 (``Rate Limiting Applied ...``), 503, 500/502/504, timeouts,
  dropped connections and truncated bodies are retried with exponential backoff,
  waiting exactly ``Retry-After`` when the API sends it; the sleep function is
  injectable. 400, 401, 403 and 404 stop the pull with a message naming the company
  and window and saying what to do.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import tenacity

from connector.kit.errors import OfframpError, Retryable
from connector.kit.http import retry_after, send
from connector.kit.secrets import RedactingFilter, Secret, redact
from plugins.rq.formats import error_message

RELATIONSHIPS = "/partner/relationships"
REPORT = "/partner/FacebookOfflineConversions/MarketingReport"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

_WHAT_TO_DO = {
    400: "the request was refused as malformed: check the company id and the dates",
    401: "the token was refused: set a valid token in {env} (bearer tokens last 12 hours)",
    403: "the token may not read this company: check `offramp pull rq` --company and the "
         "partner relationships of the account behind {env}",
    404: "the endpoint was not found: check base_url in [sources.rq]",
}


class RqApiError(OfframpError):
    """RQ Data Connect refused a request, or kept failing after every retry.

    :param status: the HTTP status (None when no answer came back).
    :param where: what was asked for, e.g. ``company 14682, window 2024-05-01``.
    """

    def __init__(self, message: str, *, status: int | None = None, where: str = ""):
        self.status = status
        self.where = where
        super().__init__(redact(message))


@dataclass(frozen=True)
class Company:
    """A company the partner account may read (``GET /partner/relationships``)."""

    id: int
    name: str = ""


@dataclass(frozen=True)
class Body:
    """A decoded response body and its Content-Type."""

    data: bytes
    content_type: str
    encoding: str  # the Content-Encoding it arrived in ("identity" when none)


def decompress(raw: bytes, encoding: str) -> bytes:
    """Undo ``Content-Encoding``; a truncated or corrupt stream raises :class:`Retryable`,
    an encoding offramp does not read raises :class:`ValueError`."""
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            return raw
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(raw)
        if encoding == "deflate":
            try:
                return _inflate(raw, zlib.MAX_WBITS)
            except zlib.error:
                return _inflate(raw, -zlib.MAX_WBITS)  # raw deflate, as some servers send
    except (EOFError, OSError, zlib.error) as exc:
        raise Retryable(f"the {encoding} response was truncated or corrupt "
                        f"({type(exc).__name__})") from None
    raise ValueError(f"the response used Content-Encoding {encoding!r}, which offramp does not "
                     "read; turn gzip off in [sources.rq]")


def _inflate(raw: bytes, wbits: int) -> bytes:
    engine = zlib.decompressobj(wbits)
    data = engine.decompress(raw) + engine.flush()
    if not engine.eof:
        raise zlib.error("incomplete or truncated stream")
    return data


class Client:
    """One RQ Data Connect account: sends requests, retries, classifies failures.

    :param http: the shared session (thread-safe use: one request per call).
    :param base_url: e.g. ``https://rqdataconnect.iqmetrix.net``.
    :param auth: ``bearer``, ``basic`` or ``basic_token``.
    :param token: the secret; ``token.env`` is named in messages.
    :param sleep: how to wait between attempts (tests pass a recorder).
    """

    def __init__(self, http: requests.Session, *, base_url: str, auth: str, token: Secret,
                 gzip_on: bool = True, timeout: float = 120.0, max_attempts: int = 8,
                 backoff: float = 1.0, max_backoff: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.token = token
        self.gzip_on = gzip_on
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep
        if auth == "basic_token":
            _guard_transport_logs()

    # -- the two endpoints -------------------------------------------------------------
    def relationships(self) -> list[Company]:
        """The companies this account may read."""
        body = self.get(RELATIONSHIPS, {}, where="the partner relationships")
        try:
            data = json.loads(body.data.decode("utf-8-sig"))
        except ValueError:
            raise RqApiError("the partner relationships answer is not JSON; check base_url "
                             "in [sources.rq]", where="the partner relationships") from None
        if isinstance(data, dict) and "Records" in data:
            data = data["Records"]
        if not isinstance(data, list):
            raise RqApiError("the partner relationships answer is not a list of companies",
                             where="the partner relationships")
        companies = []
        for item in data:
            try:
                companies.append(Company(int(item["CompanyID"]), str(item.get("CompanyName", ""))))
            except (AttributeError, KeyError, TypeError, ValueError):
                raise RqApiError("a partner relationship has no usable CompanyID",
                                 where="the partner relationships") from None
        return companies

    def report(self, company_id: int, start: str, stop: str, response: str, *,
               where: str) -> Body:
        """The Marketing Report of ``company_id`` between ``start`` and ``stop``."""
        params = {"CompanyID": str(company_id), "StartDate": start, "StopDate": stop,
                  "Response": response}
        return self.get(REPORT, params, where=where)

    # -- transport -------------------------------------------------------------------------
    def get(self, path: str, params: dict[str, str], *, where: str) -> Body:
        """GET ``path`` with retries; raises :class:`RqApiError` when it cannot succeed."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Retryable),
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, path, params, where)
        except Retryable as exc:
            raise RqApiError(f"RQ Data Connect kept failing for {where} after "
                             f"{self.max_attempts} attempts: {exc.reason}. Try again later, "
                             "or lower max_in_flight in [sources.rq]", where=where) from None

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            return exc.retry_after
        return min(self.max_backoff, self.backoff * 2 ** (state.attempt_number - 1))

    def _headers(self) -> dict[str, str]:
        headers = {"Accept-Encoding": "gzip" if self.gzip_on else "identity"}
        if self.auth == "bearer":
            headers["Authorization"] = f"Bearer {self.token.reveal()}"
        elif self.auth == "basic":
            headers["Authorization"] = f"Basic {self.token.reveal()}"
        return headers

    def _attempt(self, path: str, params: dict[str, str], where: str) -> Body:
        query: dict[str, Any] = dict(params)
        if self.auth == "basic_token":
            query["Auth"] = self.token.reveal()
        url = self.base_url + path
        response = send(self.http, "GET", url, timeout=self.timeout, params=query,
                        headers=self._headers(), stream=True)
        try:
            raw = _read(response, url)
            encoding = response.headers.get("Content-Encoding", "identity")
            data = decompress(raw, encoding)
        except ValueError as exc:
            raise RqApiError(f"could not read the answer for {where}: {exc}", where=where) from None
        finally:
            response.close()
        content_type = response.headers.get("Content-Type", "")
        status = response.status_code
        if status == 200:
            head = data[:200].lstrip()
            message = (error_message(data.decode("utf-8", "replace"))
                       if head[:1] == b"{" and b'"Error"' in head else None)
            if message is not None:  # an error envelope with a 200 status
                raise RqApiError(f"RQ Data Connect answered an error for {where}: "
                                 f"{_clip(message)}", status=status, where=where)
            return Body(data, content_type, encoding.strip().lower() or "identity")
        message = _clip(error_message(data.decode("utf-8", "replace"))
                        or data.decode("utf-8", "replace"))
        if status in RETRY_STATUSES:
            raise Retryable(f"HTTP {status}: {message}", retry_after=retry_after(response),
                            throttled=status == 429)
        hint = _WHAT_TO_DO.get(status, "see the message")
        raise RqApiError(f"RQ Data Connect refused {where} (HTTP {status}: {message}); "
                         + hint.format(env=self.token.env), status=status, where=where)


def _guard_transport_logs() -> None:
    """With ``basic_token`` the token is in the URL, and urllib3 logs URLs at DEBUG
    level: scrub known secrets from its records."""
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


def _read(response: requests.Response, url: str) -> bytes:
    """The raw (still encoded) body; a connection that breaks mid-body is retryable."""
    try:
        return response.raw.read(decode_content=False)
    except Exception as exc:  # urllib3 read errors (reset, read timeout) all mean "try again"
        host = requests.utils.urlparse(url).netloc
        raise Retryable(f"the answer from {host} broke off ({type(exc).__name__})") from None


def _clip(text: str, limit: int = 300) -> str:
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[:limit] + "..."
