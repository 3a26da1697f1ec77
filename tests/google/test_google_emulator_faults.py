"""Google-shaped faults, the project quotas, generic faults, the control API and the
inspection members."""

from __future__ import annotations

import json

import pytest
import requests

from plugins.google.emulator import GoogleEmulator


def test_per_minute_rate_limit(emu, ingest, make_body, detail):
    emu.rate_limit(retry_after=7)
    response = ingest(make_body())
    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (429, "RESOURCE_EXHAUSTED")
    info = detail(response, "ErrorInfo")
    assert info["reason"] == "RATE_LIMIT_EXCEEDED"
    assert info["metadata"]["quota_limit"] == "IngestionMutateRequestsPerMinutePerProject"
    assert detail(response, "RetryInfo")["retryDelay"] == "7s"
    assert response.headers["Retry-After"] == "7"
    assert emu.records() == []
    assert ingest(make_body()).status_code == 200


def test_daily_quota_is_told_apart_by_its_limit_name(emu, ingest, make_body, detail):
    emu.rate_limit(daily=True, times=2)
    for _ in range(2):
        response = ingest(make_body())
        assert response.status_code == 429
        metadata = detail(response, "ErrorInfo")["metadata"]
        assert metadata["quota_limit"] == "IngestionMutateRequestsPerDayPerProject"
        assert metadata["quota_limit_value"] == "100000"
        assert "Retry-After" not in response.headers
        with pytest.raises(AssertionError):
            detail(response, "RetryInfo")
    assert ingest(make_body()).status_code == 200


def test_the_status_route_has_its_own_read_quota(emu, ingest, make_body, retrieve, detail):
    request_id = ingest(make_body()).json()["requestId"]
    emu.rate_limit(path="/v1/requestStatus", operation="read")
    response = retrieve(request_id)
    assert response.status_code == 429
    assert detail(response, "ErrorInfo")["metadata"]["quota_limit"] == \
        "IngestionReadRequestsPerMinutePerProject"
    assert ingest(make_body()).status_code == 200


def test_quotas_are_counted_on_the_clock(emu, ingest, make_body, retrieve, clock, detail):
    emu.quota = {"minute": 2, "day": 3}
    clock.now = 60 * 29_333_334 + 40  # 40 s into a minute
    assert [ingest(make_body()).status_code for _ in range(3)] == [200, 200, 429]
    response = ingest(make_body())
    assert response.headers["Retry-After"] == "20"
    clock.advance(20)
    assert ingest(make_body()).status_code == 200
    response = ingest(make_body())
    assert detail(response, "ErrorInfo")["metadata"]["quota_limit"] == \
        "IngestionMutateRequestsPerDayPerProject"
    request_id = emu.requests[0]["request_id"]
    assert retrieve(request_id).status_code == 200  # reads have their own quota


@pytest.mark.parametrize("status, code, message", [
    (500, "INTERNAL", "Internal error encountered."),
    (503, "UNAVAILABLE", "The service is currently unavailable."),
    (504, "DEADLINE_EXCEEDED", "The request took too long to respond.")])
def test_server_errors(emu, ingest, make_body, status, code, message):
    emu.server_error(status, times=2)
    answers = [ingest(make_body()) for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 200]
    error = answers[0].json()["error"]
    assert (error["code"], error["status"], error["message"]) == (status, code, message)
    assert len(emu.events()) == 1


def test_server_error_refuses_other_statuses(emu):
    with pytest.raises(ValueError, match="500, 503, 504"):
        emu.server_error(502)


def test_injected_auth_faults(emu, ingest, make_body, detail):
    emu.unauthenticated()
    response = ingest(make_body())
    assert response.status_code == 401
    assert detail(response, "ErrorInfo")["reason"] == "ACCESS_TOKEN_EXPIRED"
    emu.permission_denied("1234567890")
    response = ingest(make_body())
    assert response.status_code == 403
    assert "accounts/1234567890" in response.json()["error"]["message"]
    assert ingest(make_body()).status_code == 200


def test_faults_leave_the_token_endpoint_alone(emu):
    emu.server_error(503)
    form = {"grant_type": "refresh_token", "client_id": "x", "client_secret": "y",
            "refresh_token": "z"}
    assert requests.post(f"{emu.url}/token", data=form, timeout=5).status_code == 401


def test_timeout(emu, ingest, make_body):
    emu.timeout(1.0)
    with pytest.raises(requests.Timeout):
        ingest(make_body(), timeout=0.05)
    assert emu.records() == []
    assert ingest(make_body()).status_code == 200


def test_dropped_connection(emu, ingest, make_body):
    emu.drop_connections()
    with pytest.raises(requests.ConnectionError):
        ingest(make_body())
    assert emu.records() == []


def test_a_lost_response_still_records_the_events(emu, ingest, make_body, final_status):
    emu.lose_responses()
    with pytest.raises(requests.ConnectionError):
        ingest(make_body())
    assert [e["transactionId"] for e in emu.events()] == ["order-1"]
    status = final_status(ingest(make_body()).json()["requestId"])[0]
    assert status["requestStatus"] == "FAILED"  # the resend is a duplicate transaction


def control(emu: GoogleEmulator, action: str, **kwargs) -> requests.Response:
    return requests.post(f"{emu.url}/__emulator__/google/{action}", json=kwargs, timeout=5)


def test_control_api(emu, ingest, make_body):
    answer = control(emu, "rate_limit", retry_after=3)
    assert answer.status_code == 200 and answer.json()["result"]["status"] == 429
    assert ingest(make_body()).headers["Retry-After"] == "3"
    token = control(emu, "issue_token").json()["result"]
    assert ingest(make_body(), token=token).status_code == 200
    control(emu, "fail_event", transaction_id="order-2", reason="EVENT_TOO_OLD")
    assert control(emu, "reset").status_code == 200
    assert ingest(make_body(), token=token).status_code == 401  # issued tokens are forgotten


@pytest.mark.parametrize("action, body, status", [
    ("nope", {}, 404), ("server_error", {"status": 418}, 400),
    ("rate_limit", {"bogus": 1}, 400)])
def test_control_api_errors(emu, action, body, status):
    assert control(emu, action, **body).status_code == status


def test_generic_faults_through_the_base(emu, ingest, make_body):
    requests.post(f"{emu.url}/__emulator__/faults", timeout=5,
                  json={"status": 502, "body": "bad gateway", "path": "/v1/events"})
    assert ingest(make_body()).status_code == 502


def test_snapshot_is_json(emu, ingest, make_body, make_event, retrieve):
    ingest(make_body([make_event("a"), make_event("a")]))
    ingest({"events": []})
    state = requests.get(f"{emu.url}/__emulator__/state", timeout=5).json()
    assert state == json.loads(json.dumps(emu.snapshot()))
    assert state["counts"] == {"requests_accepted": 1, "requests_rejected": 1,
                               "events_recorded": 1, "events_failed": 1, "tokens_issued": 0}
    assert state["errors"] == {"PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID": 1}
    assert [r["status"] for r in state["requests"]] == [200, 400]
    assert state["requests"][1]["error"]["reason"] == "REQUIRED_FIELD_MISSING"
    assert "offramp-emulator-token" not in json.dumps(state)
