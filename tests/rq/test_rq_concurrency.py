"""At most 8 requests in flight: the source never exceeds it, the emulator enforces it.

The emulator's hold()/release() keeps requests in flight until the test lets them
go, so concurrency is observed exactly, without sleeping."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from plugins.rq.emulator import DEMO_BEARER

REPORT = "/partner/FacebookOfflineConversions/MarketingReport"


def test_the_source_keeps_at_most_max_in_flight_requests(rq) -> None:
    rq.emu.hold()
    result: dict = {}
    source = rq.source()
    worker = threading.Thread(target=lambda: result.update(
        out=rq.record(source, rq.DAY, rq.DAY.replace(day=12), company=(rq.KENTEL, rq.PRAIRIE))))
    worker.start()
    try:
        rq.wait_for(lambda: rq.emu.in_flight == 8)
        # Give a ninth request every chance to arrive: it must not.
        assert not threading.Event().wait(0.05)
        assert rq.emu.in_flight == 8
    finally:
        rq.emu.release()
        worker.join(10)
    summary, rec = result["out"]
    assert summary.windows == 24
    assert rq.emu.peak_in_flight == 8
    assert rq.emu.throttled == 0
    assert len(rq.report_calls()) == 24


@pytest.mark.parametrize("limit", [1, 3])
def test_a_lower_max_in_flight_is_respected(rq, limit: int) -> None:
    rq.emu.hold()
    source = rq.source(max_in_flight=limit)
    worker = threading.Thread(target=lambda: rq.record(source, rq.DAY, rq.DAY.replace(day=6),
                                                       company=(rq.KENTEL,)))
    worker.start()
    try:
        rq.wait_for(lambda: rq.emu.in_flight == limit)
        assert not threading.Event().wait(0.03)
        assert rq.emu.in_flight == limit
    finally:
        rq.emu.release()
        worker.join(10)
    assert rq.emu.peak_in_flight == limit
    assert len(rq.report_calls()) == 6


def _get(url: str, company: int) -> requests.Response:
    return requests.get(url + REPORT, timeout=10,
                        headers={"Authorization": f"Bearer {DEMO_BEARER}"},
                        params={"CompanyID": company, "StartDate": "2024-05-01",
                                "StopDate": "2024-05-02"})


def test_the_emulator_answers_429_beyond_8_per_company(rq) -> None:
    rq.emu.hold()
    with ThreadPoolExecutor(max_workers=13) as pool:
        try:
            held = [pool.submit(_get, rq.emu.url, rq.KENTEL) for _ in range(12)]
            rq.wait_for(lambda: rq.emu.in_flight == 8 and rq.emu.throttled == 4)
            # Another company's database is not affected by KENTEL's eight.
            other = pool.submit(_get, rq.emu.url, rq.PRAIRIE)
            rq.wait_for(lambda: rq.emu.in_flight == 9)
            assert rq.emu.throttled == 4
        finally:
            rq.emu.release()
        answers = [f.result() for f in held]
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 8 + [429] * 4
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.json() == {"Error": True, "Message": "Rate Limiting Applied. 8 active "
                                                        "requests are already in progress."}
    assert other.result().status_code == 200
    assert rq.emu.peak_by_company[str(rq.KENTEL)] == 8


def test_the_source_recovers_from_429_caused_by_another_client(rq) -> None:
    # Another tool fills KENTEL's database (limit lowered to 1 to need one request):
    # our first try is refused with 429, the retry after the wait succeeds.
    rq.emu.max_in_flight = 1
    rq.emu.hold()
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            other = pool.submit(_get, rq.emu.url, rq.KENTEL)
            rq.wait_for(lambda: rq.emu.in_flight == 1)
            sleeps_seen = threading.Event()

            def sleep(seconds: float) -> None:
                rq.sleeps.append(seconds)
                sleeps_seen.set()
                rq.emu.release()  # the other client's request finishes while we wait
                rq.wait_for(lambda: rq.emu.in_flight == 0)

            source = rq.source()
            source.sleep = sleep
            summary, rec = rq.record(source, company=(rq.KENTEL,))
        finally:
            rq.emu.release()
        assert other.result().status_code == 200
    assert sleeps_seen.is_set() and rq.sleeps == [1.0]
    assert summary.windows == 1 and rq.emu.throttled == 1
