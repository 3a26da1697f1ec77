"""IQM's 20 requests a minute (declared limits, our request window, the emulator's
429) and the mapping of IQM's answers to Retryable / Fatal / rejections."""

from __future__ import annotations

import pytest
import requests

from connector import Fatal, Retryable
from plugins.iqm import IqmDestination
from plugins.iqm.errors import Refused, classify
from plugins.iqm.ratelimit import RequestWindow
from tests.iqm.iqm_support import FakeClock, api_calls, campaigns


def test_declared_limits_follow_iqms_rate():
    limits = IqmDestination.limits
    assert limits.rate_per_second == pytest.approx(20 / 60)
    assert limits.concurrency == 1
    assert limits.max_events == 1000


def test_request_window_waits_for_the_oldest_request_to_age_out():
    clock = FakeClock(start=0.0)
    window = RequestWindow(20, 60.0, clock=clock, sleep=clock.sleep)
    for _ in range(20):
        assert window.acquire() == 0.0
        clock.advance(1.0)
    assert window.acquire() == pytest.approx(40.0)  # the first went at t=0, now t=20
    assert clock.sleeps == [pytest.approx(40.0)]


def test_open_and_deliver_share_the_window(make, emu, clock):
    dest = make()
    used = len([c for c in emu.calls if c.path.startswith("/api/")])
    for _ in range(20 - used):
        dest.deliver(campaigns(1001))
    assert clock.sleeps == []
    # the 21st call waits a minute instead of meeting the emulator's 429
    assert dest.deliver(campaigns(1002)).rejected == {}
    assert clock.sleeps == [pytest.approx(60.0)]
    assert 1002 in emu.conversion_named("Offline orders")[0].campaigns


def test_emulator_answers_429_past_20_requests_a_minute(emu, clock):
    url = emu.url + "/api/v3/conversion/list"
    statuses = [requests.get(url, timeout=5).status_code for _ in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429  # unauthenticated, but counted
    emu.retry_after = 30
    limited = requests.get(url, timeout=5)
    assert limited.headers["Retry-After"] == "30"
    assert limited.json()["errorObjects"][0]["error"] == "Too many requests"
    clock.advance(61)
    assert requests.get(url, timeout=5).status_code == 401


def test_429_is_throttled_with_retry_after_from_the_header(make, emu):
    dest = make()
    emu.throttle(path="/api/v3/conversion/assign-to", retry_after=7)
    with pytest.raises(Retryable) as info:
        dest.deliver(campaigns(1001))
    assert info.value.throttled and info.value.retry_after == 7
    emu.throttle(path="/api/v3/conversion/assign-to")
    with pytest.raises(Retryable) as info:
        dest.deliver(campaigns(1001))
    assert info.value.throttled and info.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retryable(make, emu, status):
    dest = make()
    emu.server_error(status=status, path="/api/v3/conversion/assign-to")
    with pytest.raises(Retryable, match=f"answered {status}.*server encountered an error") as info:
        dest.deliver(campaigns(1001))
    assert not info.value.throttled
    assert dest.deliver(campaigns(1001)).rejected == {}


def test_dropped_connection_and_malformed_json_are_retryable(make, emu):
    dest = make()
    emu.inject(drop=True, path="/api/v3/conversion/assign-to")
    with pytest.raises(Retryable, match="could not reach"):
        dest.deliver(campaigns(1001))
    emu.inject(status=200, body="<html>gateway</html>", path="/api/v3/conversion/assign-to")
    with pytest.raises(Retryable, match="not JSON"):
        dest.deliver(campaigns(1001))


def test_a_timeout_is_retryable(make, emu):
    dest = make()
    dest.client.timeout = 0.01
    emu.inject(delay=0.05, status=200, path="/api/v3/conversion/assign-to")
    with pytest.raises(Retryable, match="no answer from 127.0.0.1.* within 0.01s"):
        dest.deliver(campaigns(1001))


def test_open_makes_no_request_and_the_first_delivery_prepares(make, emu):
    dest = make(prepare=False)
    assert emu.calls == []  # a run with nothing to send never calls IQM
    assert dest.deliver(campaigns(1001)).rejected == {}
    assert [c.path for c in emu.calls] == [
        "/api/v3/ua/login", "/api/v3/conversion/list", "/api/v3/conversion/pixel/add",
        "/api/v3/conversion/assign-to/campaign"]
    dest.deliver(campaigns(1002))
    assert len(api_calls(emu, "/api/v3/ua/login")) == 1  # prepared once


def test_a_429_while_preparing_is_retried_by_the_core(make, emu):
    dest = make(prepare=False)
    emu.throttle(path="/api/v3/ua/login", retry_after=9)
    with pytest.raises(Retryable) as info:
        dest.deliver(campaigns(1001))
    assert info.value.throttled and info.value.retry_after == 9
    emu.server_error(path="/api/v3/conversion/pixel/add")
    with pytest.raises(Retryable, match="answered 500"):
        dest.deliver(campaigns(1001))
    assert dest.deliver(campaigns(1001)).rejected == {}  # the core's next attempt
    assert len(emu.conversion_named("Offline orders")) == 1  # ...without a duplicate
    assert len(api_calls(emu, "/api/v3/ua/login")) == 2


def test_refused_create_stops_the_run(make, emu):
    emu.inject(status=422, path="/api/v3/conversion/pixel/add", body={
        "success": False, "errorObjects": [{"error": "name already taken", "field": "name"}]})
    with pytest.raises(Fatal, match="name already taken \\(field name\\)"):
        make()


def _response(status: int, body: object, headers: dict[str, str] | None = None):
    r = requests.Response()
    r.status_code = status
    r._content = body if isinstance(body, bytes) else __import__("json").dumps(body).encode()
    r.headers.update(headers or {})
    return r


@pytest.mark.parametrize(("status", "body", "kind", "text"), [
    (429, {}, Retryable, "rate limiting"),
    (408, {}, Retryable, "answered 408"),
    (500, {"success": False, "errorObjects": [{"error": "server encountered an error !"}]},
     Retryable, "server encountered"),
    (400, {"success": False, "data": {"status": "On Hold", "reason": "Missed payments.",
                                      "supportEmail": "billing@iqm.com"},
           "errorObjects": [{"error": "User is not allowed to access provided customer"}]},
     Fatal, "on hold: Missed payments. Contact billing@iqm.com"),
    (403, {"success": False, "errorObjects": [
        {"error": "User doesn't exist or user is not allowed to provided workspace."}]},
     Fatal, "workspace_host"),
    (403, {"success": False, "errorObjects": [{"error": "Forbidden !"}]}, Fatal, "forbids"),
    (401, {"success": False, "errorObjects": [{"error": "Invalid token"}]}, Fatal, "credentials"),
    (422, {"success": False, "errorObjects": [
        {"error": "Campaign ID 506992 exceeds the maximum limit of 25 deals", "field": "x"}]},
     Refused, "exceeds the maximum limit of 25 deals (field x)"),
    (400, b"not json", Refused, "HTTP 400"),
])
def test_classify(status, body, kind, text):
    error = classify(_response(status, body), "the test call")
    assert isinstance(error, kind)
    assert text in str(error) or text in getattr(error, "detail", "")
