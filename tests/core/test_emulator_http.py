"""The emulator base (a real HTTP server, faults, control API) and the HTTP helpers
plugins use (session, send, retry_after)."""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from urllib3.filepost import encode_multipart_formdata

from connector import Emulator, Fault, Request, Response, Retryable
from connector.kit import http as offramp_http
from connector.kit.emulator import form_fields


class Echo(Emulator):
    """Answers with what it received; /text, /bytes and /boom answer otherwise."""

    name = "echo"

    def handle(self, request: Request) -> Response:
        if request.path == "/text":
            return Response(201, "plain words", {"X-Kind": "text"})
        if request.path == "/bytes":
            return Response(200, b"\x00\x01")
        if request.path == "/boom":
            raise RuntimeError("emulator bug")
        if request.header("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                           "multipart/form-data")):
            try:
                body: Any = request.form()
            except ValueError as exc:
                return Response(400, {"error": str(exc)})
        else:
            body = request.json()
        return Response(200, {"path": request.path, "q": request.arg("q"), "body": body,
                              "agent": request.header("User-Agent")})

    def snapshot(self) -> dict[str, Any]:
        return {"calls": len(self.calls)}


@pytest.fixture
def echo() -> Iterator[Echo]:
    with Echo() as emulator:
        assert isinstance(emulator, Echo)
        yield emulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with offramp_http.session(pool_size=4) as session:
        yield session


def test_the_emulator_is_a_real_server_on_loopback(echo: Echo, http) -> None:
    assert echo.url.startswith("http://127.0.0.1:")
    answer = offramp_http.send(http, "POST", f"{echo.url}/events?q=1&q=2", json={"a": [1]},
                               timeout=5)
    assert answer.status_code == 200
    assert answer.json() == {"path": "/events", "q": "1", "body": {"a": [1]},
                             "agent": offramp_http.USER_AGENT}
    (call,) = echo.calls
    assert (call.method, call.path, call.query) == ("POST", "/events", {"q": ["1", "2"]})
    assert call.header("content-type") == "application/json"
    assert call.json() == {"a": [1]}


def test_forms_text_and_bytes(echo: Echo, http) -> None:
    form = http.post(f"{echo.url}/form", data={"k": "v w", "empty": ""}, timeout=5)
    assert form.json()["body"] == {"k": "v w", "empty": ""}
    text = http.get(f"{echo.url}/text", timeout=5)
    assert (text.status_code, text.text, text.headers["X-Kind"]) == (201, "plain words", "text")
    assert text.headers["Content-Type"].startswith("text/plain")
    raw = http.get(f"{echo.url}/bytes", timeout=5)
    assert raw.content == b"\x00\x01"
    assert raw.headers["Content-Type"] == "application/octet-stream"


def test_multipart_forms_round_trip(echo: Echo, http) -> None:
    """form_data writes values as they are (UTF-8, no percent-encoding) and the
    emulators read them back; requests' own multipart forms read the same."""
    fields = {"data": '[{"name":"Zoë","note":"a&b=c %20 +"}]', "tag": "line\r\nbreak"}
    body, content_type = offramp_http.form_data(fields)
    assert content_type.startswith("multipart/form-data; boundary=")
    assert '[{"name":"Zoë"'.encode() in body and b"%" not in body.replace(b"%20", b"")
    sent = http.post(f"{echo.url}/form", data=body, timeout=5,
                     headers={"Content-Type": content_type})
    assert sent.json()["body"] == fields
    theirs = http.post(f"{echo.url}/form", files={k: (None, v) for k, v in fields.items()},
                       timeout=5)
    assert theirs.json()["body"] == fields


def test_form_data_never_uses_a_boundary_that_a_value_holds() -> None:
    """A value holding the boundary would end its part early: another one is drawn."""
    fields = {"data": "text --collide text", "other": "x"}
    body, content_type = offramp_http.form_data(fields, boundary="collide")
    boundary = content_type.split("boundary=", 1)[1]
    assert boundary != "collide" and body.count(boundary.encode()) == 3
    assert form_fields(body, content_type) == fields
    kept, _ = offramp_http.form_data({"data": "plain"}, boundary="fixed-boundary")
    assert kept.startswith(b"--fixed-boundary\r\n")


@pytest.mark.parametrize("as_bytes", [False, True])
def test_form_data_writes_the_bytes_urllib3_writes(as_bytes: bool) -> None:
    """The body is byte for byte urllib3's ``encode_multipart_formdata`` for the same
    fields and boundary, whether a value is text or UTF-8 bytes (the core hands Meta its
    JSON array as bytes), names that need quoting included."""
    fields = {"data": '[{"name":"Zoë","note":"a&b=c"}]', 'we"ird\nname': "ü\r\nv", "n": "1"}
    given = {k: v.encode() if as_bytes else v for k, v in fields.items()}
    body, content_type = offramp_http.form_data(given, boundary="b0undary")
    assert (body, content_type) == encode_multipart_formdata(list(fields.items()),
                                                             boundary="b0undary")
    collide, content_type = offramp_http.form_data({"data": b"x--b0undary"}, "b0undary")
    assert "b0undary" not in content_type and form_fields(collide, content_type) == {
        "data": "x--b0undary"}


_PART = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n'


@pytest.mark.parametrize(("content_type", "body", "problem"), [
    ("multipart/form-data", _PART + b"--b--\r\n", "NoBoundaryInMultipartDefect"),
    ("multipart/form-data; boundary=b", _PART, "CloseBoundaryNotFound"),
    ("multipart/form-data; boundary=b", b"a=1", "StartBoundaryNotFound"),
    ("multipart/form-data; boundary=b",
     b"--b\r\nContent-Disposition: form-data\r\n\r\n1\r\n--b--\r\n", "not a named form field"),
])
def test_malformed_multipart_bodies_are_refused(echo: Echo, http, content_type, body,
                                                problem) -> None:
    with pytest.raises(ValueError, match=problem):
        form_fields(body, content_type)
    answer = http.post(f"{echo.url}/form", data=body, headers={"Content-Type": content_type},
                       timeout=5)
    assert answer.status_code == 400 and problem in answer.json()["error"]


def test_an_emulator_bug_is_a_500_not_a_hang(echo: Echo, http) -> None:
    answer = http.get(f"{echo.url}/boom", timeout=5)
    assert answer.status_code == 500
    assert "emulator bug" in answer.json()["emulator_error"]


def test_faults_are_served_then_the_normal_answer(echo: Echo, http) -> None:
    echo.inject(status=429, body={"error": "slow down"}, headers={"Retry-After": "7"}, times=2)
    first = http.post(f"{echo.url}/x", json=[], timeout=5)
    second = http.post(f"{echo.url}/x", json=[], timeout=5)
    third = http.post(f"{echo.url}/x", json=[], timeout=5)
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert offramp_http.retry_after(first) == 7.0
    assert first.json() == {"error": "slow down"}
    assert len(echo.calls) == 3  # faults are logged like any request


def test_faults_can_target_a_path(echo: Echo, http) -> None:
    echo.inject(Fault(503, "down", path="/a"))
    assert http.post(f"{echo.url}/b", json=[], timeout=5).status_code == 200
    assert http.post(f"{echo.url}/a", json=[], timeout=5).status_code == 503
    assert http.post(f"{echo.url}/a", json=[], timeout=5).status_code == 200
    echo.inject(Fault(500, times=5))
    echo.clear_faults()
    assert http.post(f"{echo.url}/a", json=[], timeout=5).status_code == 200


def test_a_dropped_connection_becomes_retryable(echo: Echo, http) -> None:
    echo.inject(drop=True)
    with pytest.raises(Retryable) as info:
        offramp_http.send(http, "POST", f"{echo.url}/x?access_token=SECRET", json=[], timeout=5)
    host = echo.url.removeprefix("http://")
    assert str(info.value) == f"could not reach {host}: ConnectionError"
    assert not info.value.throttled


def test_a_slow_answer_becomes_a_retryable_timeout(echo: Echo, http) -> None:
    echo.inject(delay=0.5)
    with pytest.raises(Retryable, match=r"no answer from 127\.0\.0\.1:\d+ within 0.02s"):
        offramp_http.send(http, "GET", f"{echo.url}/x?token=SECRET", timeout=0.02)


def test_nobody_listening_becomes_retryable(http) -> None:
    with Echo() as gone:
        url = gone.url
    with pytest.raises(Retryable, match="could not reach 127.0.0.1"):
        offramp_http.send(http, "GET", f"{url}/x", timeout=2)


def test_the_control_api(echo: Echo, http) -> None:
    made = http.post(f"{echo.url}/__emulator__/faults", json={"status": 502, "times": 1},
                     timeout=5)
    assert made.status_code == 200 and made.json()["status"] == 502
    assert http.post(f"{echo.url}/x", json=[], timeout=5).status_code == 502
    state = http.get(f"{echo.url}/__emulator__/state", timeout=5)
    assert state.json() == {"calls": 1}  # control requests are not API calls
    assert http.get(f"{echo.url}/__emulator__/nope", timeout=5).status_code == 404


def test_answers_go_out_without_nagle_delays(echo: Echo, http) -> None:
    """The handler writes headers and body separately; with Nagle's algorithm on, a small
    answer would wait for the client's delayed ACK. The server's sockets turn it off."""
    assert echo._server is not None
    assert echo._server.RequestHandlerClass.disable_nagle_algorithm is True
    assert http.post(f"{echo.url}/x", json=[{"a": 1}], timeout=5).status_code == 200


def _with_retry_after(value: str | None) -> requests.Response:
    response = requests.Response()
    if value is not None:
        response.headers["Retry-After"] = value
    return response


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), (" 3.5 ", 3.5), ("0", 0.0), ("-4", 0.0), (None, None), ("", None),
    ("soon", None), ("Wed, 99 Foo 2015 07:28:00 GMT", None),
    (email.utils.format_datetime(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), usegmt=True), 0.0),
])
def test_retry_after(value: str | None, seconds: float | None) -> None:
    assert offramp_http.retry_after(_with_retry_after(value)) == seconds


def test_retry_after_as_a_date() -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    waited = offramp_http.retry_after(
        _with_retry_after(email.utils.format_datetime(soon, usegmt=True)))
    assert waited is not None and 80 <= waited <= 91


def test_session_pools_and_never_retries_by_itself() -> None:
    with offramp_http.session(pool_size=7) as session:
        adapter = session.get_adapter("https://example.com")
        assert adapter.max_retries.total == 0  # retrying is the core's job
        assert adapter._pool_maxsize == 7
        assert session.headers["User-Agent"].startswith("offramp/")


def test_retry_after_dates_are_gmt_whatever_the_local_zone(monkeypatch) -> None:
    """``-0000`` dates parse as naive datetimes: they must not be read as local time."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        soon = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=90)
        header = email.utils.format_datetime(soon)  # "... -0000"
        assert header.endswith("-0000")
        waited = offramp_http.retry_after(_with_retry_after(header))
        assert waited is not None and 80 <= waited <= 91
    finally:
        monkeypatch.undo()
        time.tzset()
