"""Meta-shaped faults, generic faults, and the control API."""

from __future__ import annotations

import json

import pytest
import requests

from plugins.meta.emulator import DEFAULT_TOKEN


def error_of(response):
    return response.json()["error"]


@pytest.mark.parametrize("code, status", [(4, 403), (17, 400), (341, 400), (80003, 400)])
def test_throttle_codes(emu, send, make_event, code, status):
    emu.throttle(code)
    response = send([make_event()])
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code and error["is_transient"] is True
    assert error["type"] == "OAuthException" and error["fbtrace_id"]
    assert "Retry-After" not in response.headers
    assert emu.events() == []
    assert send([make_event()]).status_code == 200


def test_throttle_17_carries_the_marketing_api_subcode(send, make_event, emu):
    emu.throttle(17)
    assert error_of(send([make_event()]))["error_subcode"] == 2446079


def test_throttle_with_retry_after_and_times(emu, send, make_event):
    emu.throttle(4, retry_after=3, times=2)
    first, second, third = (send([make_event()]) for _ in range(3))
    assert first.headers["Retry-After"] == "3" and second.headers["Retry-After"] == "3"
    assert (first.status_code, second.status_code, third.status_code) == (403, 403, 200)
    assert len(emu.events()) == 1


def test_unknown_fault_codes_are_refused(emu):
    with pytest.raises(ValueError, match="throttle code"):
        emu.throttle(99)
    with pytest.raises(ValueError, match="transient code"):
        emu.transient(17)
    with pytest.raises(ValueError, match="5xx"):
        emu.server_error(404)


@pytest.mark.parametrize("code", [1, 2])
def test_transient_errors(emu, send, make_event, code):
    emu.transient(code)
    response = send([make_event()])
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == code and error["is_transient"] is True
    assert emu.events() == []


def test_server_error(emu, send, make_event):
    emu.server_error(502, times=2)
    statuses = [send([make_event()]).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert len(emu.events()) == 1


def test_faults_can_target_one_dataset(emu, send, make_event):
    emu.server_error(path="/v26.0/999/")
    assert send([make_event()], dataset="111").status_code == 200
    assert send([make_event()], dataset="999").status_code == 503


def test_timeout(emu, send, make_event):
    emu.timeout(1.0)
    with pytest.raises(requests.Timeout):
        send([make_event()], timeout=0.05)
    assert emu.events() == []
    assert send([make_event()]).status_code == 200


def test_dropped_connection(emu, send, make_event):
    emu.inject(drop=True)
    with pytest.raises(requests.ConnectionError):
        send([make_event()])
    assert emu.events() == [] and emu.requests_accepted == 0


def test_lost_response_still_records_the_events(emu, send, make_event):
    emu.lose_responses()
    with pytest.raises(requests.ConnectionError):
        send([make_event("o1")])
    assert [e["custom_data"]["order_id"] for e in emu.events()] == ["o1"]
    assert send([make_event("o1")]).json()["events_received"] == 1
    assert emu.duplicates == 1


def test_poisoned_order_rejects_every_request_holding_it(emu, send, make_event):
    emu.poison("bad")
    batch = [make_event("a"), make_event("bad"), make_event("b")]
    response = send(batch)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["message"]) == (100, "Invalid parameter")
    assert error["error_user_title"] == "Invalid Custom Data"
    assert "bad" not in error["error_user_msg"]
    assert send(batch[1:2]).status_code == 400
    assert send([batch[0], batch[2]]).status_code == 200
    assert len(emu.events()) == 2
    emu.clear_faults()
    assert send(batch[1:2]).status_code == 200


def test_reset_forgets_everything(emu, send, make_event):
    send([make_event()])
    emu.expire_token(DEFAULT_TOKEN)
    emu.throttle(17)
    emu.reset()
    assert send([make_event()]).status_code == 200
    assert (emu.received_count, emu.duplicates, len(emu.requests)) == (1, 0, 1)


# -- control API ------------------------------------------------------------------------

def control(emu, path, body=None):
    return requests.post(f"{emu.url}/__emulator__/{path}", json=body or {}, timeout=5)


def state(emu):
    return requests.get(f"{emu.url}/__emulator__/state", timeout=5).json()


def test_generic_fault_through_control(emu, send, make_event):
    answer = control(emu, "faults", {"status": 429, "body": {"error": "slow down"},
                                     "headers": {"Retry-After": "7"}})
    assert answer.status_code == 200
    response = send([make_event()])
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert send([make_event()]).status_code == 200


def test_state_endpoint(emu, send, make_event):
    send([make_event("o1"), make_event("o1")], upload_tag="t")
    send([make_event("x", action_source="nope")])
    snap = state(emu)
    assert [r["event"]["custom_data"]["order_id"] for r in snap["events"]] == ["o1"]
    assert snap["events"][0]["dataset_id"] == "1234567890"
    assert (snap["received_count"], snap["duplicates"]) == (2, 1)
    assert (snap["requests_accepted"], snap["requests_rejected"]) == (1, 1)
    assert snap["requests"][0]["upload_tag"] == "t"
    assert snap["requests"][1]["error"]["title"] == "Invalid Action Source"
    assert snap == json.loads(json.dumps(emu.snapshot()))


@pytest.mark.parametrize("action, body, status, code", [
    ("throttle", {"code": 4, "retry_after": 2}, 403, 4),
    ("transient", {"code": 1}, 500, 1),
    ("server_error", {"status": 504}, 504, 2),
])
def test_meta_faults_through_control(emu, send, make_event, action, body, status, code):
    answer = control(emu, f"meta/{action}", body)
    assert answer.status_code == 200 and answer.json()["fault"]["status"] == status
    response = send([make_event()])
    assert response.status_code == status and error_of(response)["code"] == code


def test_poison_expire_and_reset_through_control(emu, send, make_event):
    assert control(emu, "meta/poison", {"order_id": "p1"}).status_code == 200
    assert send([make_event("p1")]).status_code == 400
    assert control(emu, "meta/expire_token", {"token": DEFAULT_TOKEN}).status_code == 200
    assert error_of(send([make_event("p2")]))["error_subcode"] == 463
    assert control(emu, "meta/reset").status_code == 200
    assert send([make_event("p1")]).status_code == 200
    assert state(emu)["requests_accepted"] == 1


def test_timeout_and_lost_responses_through_control(emu, send, make_event):
    control(emu, "meta/timeout", {"seconds": 1.0})
    with pytest.raises(requests.Timeout):
        send([make_event("t")], timeout=0.05)
    control(emu, "meta/lose_responses", {"times": 1})
    with pytest.raises(requests.ConnectionError):
        send([make_event("l")])
    assert state(emu)["received_count"] == 1


def test_control_refuses_unknown_faults_and_bad_arguments(emu):
    assert control(emu, "meta/explode").status_code == 404
    assert control(emu, "meta/throttle", {"code": 99}).status_code == 400
    assert control(emu, "meta/throttle", {"colour": "red"}).status_code == 400
