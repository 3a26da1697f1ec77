"""Request-level rules: body forms, token, API version, dataset, the data array."""

from __future__ import annotations

import json

import pytest
import requests

from plugins.meta.emulator import DEFAULT_TOKEN, MetaEmulator


def error_of(response: requests.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def test_form_body_is_accepted_and_recorded(emu, send, make_event):
    response = send([make_event()], test_event_code="TEST123", upload_tag="nightly")
    assert response.status_code == 200
    body = response.json()
    assert body["events_received"] == 1
    assert body["messages"] == []
    assert isinstance(body["fbtrace_id"], str) and len(body["fbtrace_id"]) > 10
    assert [e["custom_data"]["order_id"] for e in emu.events()] == ["order-1"]
    assert emu.requests_accepted == 1 and emu.requests_rejected == 0
    [entry] = emu.requests
    assert entry["test_event_code"] == "TEST123" and entry["upload_tag"] == "nightly"
    assert entry["dataset_id"] == "1234567890" and entry["api_version"] == "v26.0"
    assert entry["events"] == 1 and "error" not in entry


@pytest.mark.parametrize("data_as_text", [False, True])
def test_json_body_is_accepted(emu, make_event, data_as_text):
    events = [make_event("a"), make_event("b")]
    body = {"access_token": DEFAULT_TOKEN, "data": json.dumps(events) if data_as_text else events,
            "partner_agent": "offramp"}
    response = requests.post(f"{emu.url}/v26.0/1/events", json=body, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["events_received"] == 2
    assert emu.requests[0]["partner_agent"] == "offramp"


def test_token_in_query_string_or_bearer_header(emu, make_event):
    data = {"data": json.dumps([make_event("q")])}
    in_query = requests.post(f"{emu.url}/v26.0/1/events", params={"access_token": DEFAULT_TOKEN},
                             data=data, timeout=5)
    in_header = requests.post(f"{emu.url}/v26.0/1/events", data={"data": json.dumps(
        [make_event("h")])}, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=5)
    assert (in_query.status_code, in_header.status_code) == (200, 200)
    assert len(emu.events()) == 2


def test_missing_token_is_code_104(emu, send, make_event):
    response = send([make_event()], token=None)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["type"]) == (104, "OAuthException")
    assert "access token is required" in error["message"]
    assert emu.events() == [] and emu.requests_rejected == 1


def test_unknown_token_is_code_190_without_subcode(emu, send, make_event):
    response = send([make_event()], token="not-a-token")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 190 and "error_subcode" not in error
    assert error["message"].startswith("Invalid OAuth access token")
    assert "not-a-token" not in response.text
    assert emu.events() == []


def test_auth_status_can_be_401(clock, make_event):
    with MetaEmulator(clock=clock, auth_status=401) as emu:
        response = requests.post(f"{emu.url}/v26.0/1/events",
                                 data={"access_token": "nope", "data": "[]"}, timeout=5)
    assert response.status_code == 401 and error_of(response)["code"] == 190


def test_expired_token_is_190_subcode_463(emu, send, make_event, clock):
    assert send([make_event("before")]).status_code == 200
    emu.expire_token(DEFAULT_TOKEN)
    clock.advance(60)
    response = send([make_event("after")])
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert "Session has expired" in error["message"]
    assert [e["custom_data"]["order_id"] for e in emu.events()] == ["before"]


def test_custom_tokens(clock, make_event):
    with MetaEmulator(clock=clock, tokens={"t1", "t2"}) as emu:
        def post(token):
            return requests.post(f"{emu.url}/v26.0/1/events", data={
                "access_token": token, "data": json.dumps([make_event(token)])}, timeout=5)
        assert post("t2").status_code == 200
        assert error_of(post(DEFAULT_TOKEN))["code"] == 190


@pytest.mark.parametrize("version", ["v17.0", "v21.0", "v26.0"])
def test_supported_versions(send, make_event, version):
    assert send([make_event()], version=version).status_code == 200


@pytest.mark.parametrize("version", ["v16.0", "v2.9"])
def test_deprecated_versions_get_2635(emu, send, make_event, version):
    response = send([make_event()], version=version)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 2635
    assert "deprecated version" in error["message"] and "v26.0" in error["message"]
    assert emu.events() == []


@pytest.mark.parametrize("version", ["v99.0", "26.0", "v26", "latest"])
def test_unknown_versions_are_unknown_paths(send, make_event, version):
    response = send([make_event()], version=version)
    assert response.status_code == 400 and error_of(response)["code"] == 2500


def test_unknown_edge_is_an_unknown_path(emu, make_event):
    response = requests.post(f"{emu.url}/v26.0/1/conversions", data={
        "access_token": DEFAULT_TOKEN, "data": json.dumps([make_event()])}, timeout=5)
    assert response.status_code == 400 and error_of(response)["code"] == 2500


def test_unknown_dataset_is_code_100_subcode_33(clock, make_event):
    with MetaEmulator(clock=clock, datasets={"111"}) as emu:
        def post(dataset):
            return requests.post(f"{emu.url}/v26.0/{dataset}/events", data={
                "access_token": DEFAULT_TOKEN, "data": json.dumps([make_event()])}, timeout=5)
        assert post("111").status_code == 200
        response = post("222")
        assert response.status_code == 400
        error = error_of(response)
        assert (error["code"], error["error_subcode"]) == (100, 33)
        assert error["type"] == "GraphMethodException"
        assert "Object with ID '222' does not exist" in error["message"]
        assert len(emu.events()) == 1


def test_any_numeric_dataset_when_none_configured(send, make_event):
    assert send([make_event()], dataset="987654321").status_code == 200
    error = error_of(send([make_event()], dataset="my-pixel"))
    assert (error["code"], error["error_subcode"]) == (100, 33)


def test_get_is_unsupported(emu):
    response = requests.get(f"{emu.url}/v26.0/1/events",
                            params={"access_token": DEFAULT_TOKEN}, timeout=5)
    error = error_of(response)
    assert response.status_code == 400 and error["error_subcode"] == 33
    assert error["message"].startswith("Unsupported get request")


@pytest.mark.parametrize("data, words", [
    (None, "data is required"),
    ("not json", "must be an array"),
    ('{"event_name": "Purchase"}', "must be an array"),
    ("[]", "non-empty"),
])
def test_data_must_be_a_non_empty_array(emu, data, words):
    body = {"access_token": DEFAULT_TOKEN}
    if data is not None:
        body["data"] = data
    response = requests.post(f"{emu.url}/v26.0/1/events", data=body, timeout=5)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 100 and words in error["message"]
    assert emu.requests_rejected == 1


def test_multipart_form_body_is_accepted(emu, make_event):
    """Meta's own examples post the fields as a multipart form (``curl -F data=[...]``)."""
    events = [make_event("a"), make_event("b")]
    response = requests.post(f"{emu.url}/v26.0/1/events", timeout=5, files={
        "data": (None, json.dumps(events)), "access_token": (None, DEFAULT_TOKEN),
        "upload_tag": (None, "nightly")})
    assert response.request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert response.status_code == 200, response.text
    assert response.json()["events_received"] == 2
    assert [e["custom_data"]["order_id"] for e in emu.events()] == ["a", "b"]
    assert emu.requests[0]["upload_tag"] == "nightly"


@pytest.mark.parametrize("case", ["no boundary", "unclosed", "unnamed part", "not multipart"])
def test_malformed_multipart_body_is_code_100(emu, make_event, case):
    part = f'Content-Disposition: form-data; name="data"\r\n\r\n{json.dumps([make_event()])}'
    body = f"--b0\r\n{part}\r\n--b0--\r\n"
    content_type = "multipart/form-data; boundary=b0"
    if case == "no boundary":
        content_type = "multipart/form-data"
    elif case == "unclosed":
        body = body.removesuffix("--b0--\r\n")
    elif case == "unnamed part":
        body = body.replace('; name="data"', "")
    else:
        body = "data=[]"
    response = requests.post(f"{emu.url}/v26.0/1/events", data=body.encode(), timeout=5,
                             headers={"Content-Type": content_type,
                                      "Authorization": f"Bearer {DEFAULT_TOKEN}"})
    assert response.status_code == 400 and error_of(response)["code"] == 100
    assert emu.events() == []


def test_malformed_json_body(emu):
    response = requests.post(f"{emu.url}/v26.0/1/events", data=b"{nope",
                             headers={"Content-Type": "application/json",
                                      "Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=5)
    assert response.status_code == 400 and error_of(response)["code"] == 100


def test_at_most_1000_events(emu, send, make_event):
    events = [make_event(f"o{i}") for i in range(1001)]
    response = send(events)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == 100 and "at most 1000" in error["message"]
    assert emu.events() == [] and emu.received_count == 0
    response = send(events[:1000])
    assert response.status_code == 200 and response.json()["events_received"] == 1000
    assert len(emu.events()) == 1000


def test_error_body_shape(send, make_event):
    response = send([make_event(event_time=1)])
    error = error_of(response)
    assert set(error) == {"message", "type", "code", "error_subcode", "is_transient",
                          "error_user_title", "error_user_msg", "fbtrace_id"}
    assert error["is_transient"] is False


def test_state_never_holds_the_token(emu, send, make_event):
    send([make_event()], test_event_code="T1")
    send([make_event("x")], token="wrong-secret-token")
    state = requests.get(f"{emu.url}/__emulator__/state", timeout=5).json()
    text = json.dumps(state)
    assert DEFAULT_TOKEN not in text and "wrong-secret-token" not in text
    assert state["requests_accepted"] == 1 and state["requests_rejected"] == 1
    assert state["requests"][0]["test_event_code"] == "T1"


def test_any_token_can_be_expired(emu, send, make_event):
    emu.expire_token("old-token")
    error = error_of(send([make_event()], token="old-token"))
    assert (error["code"], error["error_subcode"]) == (190, 463)
    assert send([make_event()]).status_code == 200
