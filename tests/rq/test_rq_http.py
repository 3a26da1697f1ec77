"""Auth modes, compression, retries (429/503/timeouts/broken streams) and the errors
for 400/401/403: they name the company and window and never contain the token."""

from __future__ import annotations

import gzip
import logging
import time
import traceback
import zlib

import pytest

from connector import Fault
from connector.kit.errors import ConfigError, Retryable
from plugins.rq.client import RqApiError, decompress
from plugins.rq.emulator import DEMO_BASIC, DEMO_BEARER

REPORT = "/partner/FacebookOfflineConversions/MarketingReport"
RATE_LIMITED = {"Error": True,
                "Message": "Rate Limiting Applied. 8 active requests are already in progress."}


def leak_free(exc: BaseException, token: str) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    assert token not in text


# -- auth ------------------------------------------------------------------------------
@pytest.mark.parametrize(("auth", "header", "param"), [
    ("bearer", f"Bearer {DEMO_BEARER}", None),
    ("basic", f"Basic {DEMO_BASIC}", None),
    ("basic_token", None, DEMO_BASIC),
])
def test_auth_modes(rq, auth: str, header: str | None, param: str | None) -> None:
    summary, rec = rq.record(rq.source(auth=auth))
    assert summary.windows == 3
    for call in rq.emu.calls:
        assert call.header("Authorization") == header
        assert call.arg("Auth") == param


def test_a_missing_token_says_which_variable_to_set(rq, monkeypatch) -> None:
    source = rq.source()
    monkeypatch.delenv(rq.TOKEN_ENV)
    with pytest.raises(ConfigError, match=f"set the environment variable {rq.TOKEN_ENV}"):
        rq.record(source)
    assert rq.emu.calls == []


@pytest.mark.parametrize("auth", ["bearer", "basic", "basic_token"])
def test_401_names_company_window_and_variable_never_the_token(rq, auth: str) -> None:
    token = f"wrong-{auth}-token-8c1f"
    with pytest.raises(RqApiError) as info:
        rq.record(rq.source(auth=auth, token=token), company=(rq.KENTEL,))
    exc = info.value
    assert exc.status == 401
    assert "company 14682, window 2024-05-01" in str(exc)
    assert f"set a valid token in {rq.TOKEN_ENV}" in str(exc)
    leak_free(exc, token)


def test_an_expired_token_mid_run_stops_the_pull(rq) -> None:
    rq.emu.expire(DEMO_BEARER)
    with pytest.raises(RqApiError, match="HTTP 401: The access token has expired"):
        rq.record(rq.source(), company=(rq.KENTEL,))


def test_401_on_the_relationships_names_them(rq) -> None:
    with pytest.raises(RqApiError, match="refused the partner relationships \\(HTTP 401"):
        rq.record(rq.source(token="nope-nope"))


def test_403_for_an_unrelated_company(rq) -> None:
    with pytest.raises(RqApiError) as info:
        rq.record(rq.source(auth="basic_token"), company=(99999,))
    assert info.value.status == 403
    message = str(info.value)
    assert "company 99999, window 2024-05-01" in message
    assert "You do not have a relationship with company 99999" in message
    assert "--company" in message
    leak_free(info.value, DEMO_BASIC)


def test_400_names_company_and_window(rq) -> None:
    rq.emu.inject(Fault(status=400, path=REPORT, body={
        "Error": True, "Message": "Missing required parameter(s): StartDate."}))
    with pytest.raises(RqApiError) as info:
        rq.record(rq.source(), company=(rq.PRAIRIE,))
    assert info.value.status == 400
    assert str(info.value).startswith("RQ Data Connect refused company 21090, window 2024-05-01 "
                                      "(HTTP 400: Missing required parameter(s): StartDate.)")
    assert rq.sleeps == []  # not retried


def test_an_error_envelope_with_status_200_is_an_error(rq) -> None:
    rq.emu.inject(Fault(status=200, path=REPORT, body={"Error": True,
                                                       "Message": "Report timed out"}))
    with pytest.raises(RqApiError, match="answered an error for company 14682, window "
                                         "2024-05-01: Report timed out"):
        rq.record(rq.source(), company=(rq.KENTEL,))


def test_a_server_echoing_the_token_is_redacted(rq) -> None:
    rq.emu.inject(Fault(status=403, path=REPORT, body={
        "Error": True, "Message": f"token {DEMO_BASIC} may not read company 14682"}))
    with pytest.raises(RqApiError) as info:
        rq.record(rq.source(auth="basic_token"), company=(rq.KENTEL,))
    assert "token *** may not read" in str(info.value)
    leak_free(info.value, DEMO_BASIC)


def test_the_url_token_stays_out_of_debug_logs(rq, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    rq.record(rq.source(auth="basic_token"), company=(rq.KENTEL,))
    assert "MarketingReport" in caplog.text  # urllib3 did log the request line
    assert DEMO_BASIC not in caplog.text


# -- retries ---------------------------------------------------------------------------
def test_429_and_503_are_retried_honouring_retry_after(rq) -> None:
    rq.emu.inject(Fault(status=429, body=RATE_LIMITED, headers={"Retry-After": "7"}, times=2,
                        path=REPORT))
    rq.emu.inject(Fault(status=503, body="Service Unavailable", headers={"Retry-After": "3"},
                        path=REPORT))
    summary, rec = rq.record(rq.source(), company=(rq.KENTEL,))
    assert rq.sleeps == [7.0, 7.0, 3.0]
    assert summary.windows == 1
    assert rec.table().num_rows == len(rq.emu.rows_for(rq.KENTEL, rq.DAY))
    assert len(rq.report_calls()) == 4


def test_without_retry_after_the_wait_doubles(rq) -> None:
    rq.emu.inject(Fault(status=429, body=RATE_LIMITED, times=2, path=REPORT))  # as documented
    rq.emu.inject(Fault(status=503, times=2, path=REPORT))
    rq.record(rq.source(backoff=0.5), company=(rq.KENTEL,))
    assert rq.sleeps == [0.5, 1.0, 2.0, 4.0]


def test_giving_up_names_the_window_and_the_last_failure(rq) -> None:
    rq.emu.inject(Fault(status=503, times=10, path=REPORT, body={"Error": True,
                                                                 "Message": "Down"}))
    with pytest.raises(RqApiError) as info:
        rq.record(rq.source(max_attempts=3), company=(rq.KENTEL,))
    assert str(info.value).startswith("RQ Data Connect kept failing for company 14682, window "
                                      "2024-05-01 after 3 attempts: HTTP 503: Down")
    assert rq.sleeps == [1.0, 2.0]


def test_timeouts_and_dropped_connections_are_retried(rq) -> None:
    rq.emu.inject(Fault(delay=2.0, path=REPORT))  # far longer than the client's timeout
    rq.emu.inject(Fault(drop=True, path=REPORT))
    summary, rec = rq.record(rq.source(timeout=0.25), company=(rq.KENTEL,))
    # (>= 2: on a loaded machine a normal answer may also miss 0.25 s and be retried)
    assert summary.windows == 1 and len(rq.sleeps) >= 2
    assert [c.path for c in rq.emu.calls].count(REPORT) == len(rq.sleeps) + 1
    assert rec.table().num_rows == len(rq.emu.rows_for(rq.KENTEL, rq.DAY))


def test_a_failure_stops_the_other_windows(rq) -> None:
    rq.emu.expire(DEMO_BEARER)
    with pytest.raises(RqApiError):
        rq.record(rq.source(max_in_flight=1), rq.DAY, rq.DAY.replace(day=20),
                  company=(rq.KENTEL,))
    assert len(rq.report_calls()) < 20  # the queued windows were cancelled


def test_a_failure_cuts_short_another_windows_wait(rq) -> None:
    # One request gets 503 "come back in 30 s", the other 403: the pull must not wait.
    rq.emu.inject(Fault(status=503, headers={"Retry-After": "30"}, path=REPORT))
    source = rq.source(max_in_flight=2)
    source.sleep = None  # the real, interruptible wait
    started = time.monotonic()
    with pytest.raises(RqApiError, match="HTTP 403"):
        rq.record(source, company=(99998, 99999))
    assert time.monotonic() - started < 10


# -- compression -----------------------------------------------------------------------
def test_gzip_is_asked_for_and_decoded(rq) -> None:
    _, zipped = rq.record(rq.source(gzip=True), company=(rq.KENTEL,))
    assert {c.header("Accept-Encoding") for c in rq.emu.calls} == {"gzip"}
    assert rq.emu.encodings == ["gzip"]
    rq.emu.reset()
    _, plain = rq.record(rq.source(gzip=False), company=(rq.KENTEL,))
    assert {c.header("Accept-Encoding") for c in rq.emu.calls} == {"identity"}
    assert rq.emu.encodings == ["identity"]
    assert zipped.table().equals(plain.table())
    assert zipped.table().num_rows > 0


def test_a_truncated_gzip_stream_is_retried_not_read_short(rq) -> None:
    rq.emu.break_gzip(1)
    _, rec = rq.record(rq.source(format="csv"), company=(rq.KENTEL,))
    assert rq.sleeps == [1.0]
    assert rec.table().num_rows == len(rq.emu.rows_for(rq.KENTEL, rq.DAY))


def test_decompress() -> None:
    data = b"Email,Phone\r\n" * 50
    assert decompress(gzip.compress(data), "gzip") == data
    assert decompress(zlib.compress(data), "deflate") == data
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decompress(raw.compress(data) + raw.flush(), "deflate") == data
    assert decompress(data, "identity") == data
    with pytest.raises(Retryable, match="truncated or corrupt"):
        decompress(gzip.compress(data)[:20], "gzip")
    with pytest.raises(Retryable, match="truncated or corrupt"):
        decompress(zlib.compress(data)[:-6], "deflate")
    with pytest.raises(ValueError, match="Content-Encoding 'br'"):
        decompress(data, "br")
