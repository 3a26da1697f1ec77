"""The emulator's rate-limit model (usage headers, throttling past the limit, the time
to regain access), permission errors, and datasets that cannot take offline events."""

from __future__ import annotations

import json

import pytest
import requests

from plugins.meta.emulator import DEFAULT_TOKEN

DATASET = "1234567890"


def usage_of(response: requests.Response) -> dict:
    return {name: json.loads(response.headers[name]) for name in
            ("X-Business-Use-Case-Usage", "X-App-Usage", "X-Ad-Account-Usage")
            if name in response.headers}


def test_usage_grows_decays_and_is_reported_in_metas_shapes(emu, send, make_event, clock):
    emu.rate_limit(cost=30, window=300, headers_from=0)
    first = usage_of(send([make_event("a")]))
    [entry] = first["X-Business-Use-Case-Usage"][DATASET]
    assert entry == {"type": "ads_management", "call_count": 30, "total_cputime": 15,
                     "total_time": 15, "estimated_time_to_regain_access": 0}
    assert first["X-App-Usage"] == {"call_count": 30, "total_cputime": 15, "total_time": 15}
    assert first["X-Ad-Account-Usage"]["acc_id_util_pct"] == 30
    clock.advance(45)  # 100 % decays over 300 s: 15 % in 45 s
    second = usage_of(send([make_event("b")]))
    assert second["X-App-Usage"]["call_count"] == 45


def test_past_the_limit_requests_are_refused_until_access_returns(emu, send, make_event, clock):
    emu.rate_limit(cost=40, window=300, block=150, code=17, headers_from=0)
    assert send([make_event("a")]).status_code == send([make_event("a2")]).status_code == 200
    refused = send([make_event("b")])  # 120 %: blocked for 150 s
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["error_subcode"], error["is_transient"]) == (17, 2446079, True)
    [entry] = usage_of(refused)["X-Business-Use-Case-Usage"][DATASET]
    assert entry["call_count"] == 100 and entry["estimated_time_to_regain_access"] == 3
    clock.advance(100)
    assert send([make_event("b")]).status_code == 400  # still blocked
    clock.advance(51)
    assert send([make_event("b")]).status_code == 200
    assert emu.meter.throttled == 2 and len(emu.events()) == 3


def test_headers_are_absent_below_headers_from_and_keyed_as_configured(emu, send, make_event):
    emu.rate_limit(cost=5, headers_from=10, business_id="act_42", kinds=("buc",),
                   buc_type="custom_audience")
    assert usage_of(send([make_event("a")])) == {}
    answer = usage_of(send([make_event("b")]))
    assert list(answer) == ["X-Business-Use-Case-Usage"]
    assert answer["X-Business-Use-Case-Usage"]["act_42"][0]["type"] == "custom_audience"


def test_without_the_model_no_headers(emu, send, make_event):
    assert usage_of(send([make_event()])) == {}


def test_rate_limit_settings_are_checked(emu):
    with pytest.raises(ValueError, match="code must be one of"):
        emu.rate_limit(code=99)
    with pytest.raises(ValueError, match="kinds"):
        emu.rate_limit(kinds=("page",))


@pytest.mark.parametrize(("code", "message"), [
    (10, "(#10) Application does not have permission for this action"),
    (200, "(#200) Permissions error"),
    (299, "(#299) Permissions error"),
])
def test_permission_errors(emu, send, make_event, code, message):
    emu.deny(code)
    answer = send([make_event()])
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert (error["code"], error["message"], error["type"]) == (code, message, "OAuthException")
    with pytest.raises(ValueError, match="10 or 200-299"):
        emu.deny(100)


def test_a_legacy_dataset_refuses_events_and_says_why_when_asked(emu, send, make_event,
                                                                 monkeypatch):
    monkeypatch.setattr(emu, "legacy_datasets", {DATASET})
    error = send([make_event()]).json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (
        100, 33, "GraphMethodException")
    answer = requests.get(f"{emu.url}/v26.0/{DATASET}", timeout=5,
                          params={"fields": "is_consolidated_container",
                                  "access_token": DEFAULT_TOKEN})
    assert answer.json() == {"id": DATASET, "is_consolidated_container": False}


def test_limits_through_control(emu, send, make_event):
    control = emu.url + "/__emulator__/meta/"
    assert requests.post(control + "rate_limit", json={"cost": 50, "headers_from": 0},
                         timeout=5).status_code == 200
    assert usage_of(send([make_event()]))["X-App-Usage"]["call_count"] == 50
    fault = requests.post(control + "deny", json={"code": 10}, timeout=5).json()["fault"]
    assert fault["status"] == 403 and send([make_event("b")]).json()["error"]["code"] == 10
