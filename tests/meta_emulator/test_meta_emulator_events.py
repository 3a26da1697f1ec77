"""Per-event rules, both ways, and Meta's batch atomicity."""

from __future__ import annotations

import hashlib
import json

import pytest

DAY = 86_400


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def drop(path: str):
    """A mutation removing ``a.b`` from an event."""
    def mutate(event, now):
        *parents, last = path.split(".")
        target = event
        for key in parents:
            target = target[key]
        del target[last]
    return mutate


def put(path: str, value):
    """A mutation setting ``a.b`` (creating parents) on an event."""
    def mutate(event, now):
        *parents, last = path.split(".")
        target = event
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return mutate


def combine(*mutations):
    def mutate(event, now):
        for m in mutations:
            m(event, now)
    return mutate


def aged(seconds: int):
    """Set event_time ``seconds`` before the clock (negative: in the future)."""
    def mutate(event, now):
        event["event_time"] = int(now) - seconds
    return mutate


def unchanged(event, now):
    return None


def digits(event, now):
    event["event_time"] = str(event["event_time"])


WEBSITE = combine(put("action_source", "website"),
                  put("user_data.client_user_agent", "Mozilla/5.0"),
                  put("event_source_url", "https://shop.example/thanks"))

REJECTED = {
    "no event_name": (drop("event_name"), "Missing Event Name", None),
    "blank event_name": (put("event_name", " "), "Missing Event Name", None),
    "no event_time": (drop("event_time"), "Missing Event Time", None),
    "event_time text": (put("event_time", "yesterday"), "Invalid Event Time", None),
    "event_time float": (put("event_time", 1759996400.5), "Invalid Event Time", None),
    "no action_source": (drop("action_source"), "Missing Action Source", None),
    "unknown action_source": (put("action_source", "store"), "Invalid Action Source", None),
    "no user_data": (drop("user_data"), "Missing User Data", None),
    "user_data not an object": (put("user_data", ["x"]), "Invalid User Data", None),
    "user_data empty": (put("user_data", {}), "Missing Customer Information Parameters", None),
    "user_data only nulls": (put("user_data", {"em": None, "fbp": ""}),
                             "Missing Customer Information Parameters", None),
    "plain email": (put("user_data.em", "jane@example.com"), "Invalid Hashed Parameter", None),
    "uppercase hash": (put("user_data.em", sha("jane@example.com").upper()),
                       "Invalid Hashed Parameter", None),
    "one bad hash in a list": (put("user_data.ph", [sha("1"), "16505551212"]),
                               "Invalid Hashed Parameter", None),
    "hash too short": (put("user_data.fn", sha("jane")[:63]), "Invalid Hashed Parameter", None),
    "unhashed country": (put("user_data.country", "us"), "Invalid Hashed Parameter", None),
    "unhashed external_id": (put("user_data.external_id", "cust-42"),
                             "Invalid Hashed Parameter", None),
    "number as zip": (put("user_data.zp", 94025), "Invalid Hashed Parameter", None),
    "website without user agent": (combine(WEBSITE, drop("user_data.client_user_agent")),
                                   "Missing Client User Agent", None),
    "website without url": (combine(WEBSITE, drop("event_source_url")),
                            "Missing Event Source URL", None),
    "purchase without value": (drop("custom_data.value"), "Missing Value for Purchase Event",
                               2804009),
    "purchase with text value": (put("custom_data.value", "lots"),
                                 "Missing Value for Purchase Event", 2804009),
    "purchase without currency": (drop("custom_data.currency"),
                                  "Missing Value for Purchase Event", 2804009),
    "purchase without custom_data": (drop("custom_data"), "Missing Value for Purchase Event",
                                     2804009),
    "unknown currency": (put("custom_data.currency", "XYZ"), "Invalid Currency Code", None),
    "two-letter currency": (put("custom_data.currency", "US"), "Invalid Currency Code", None),
    "bad currency on a Lead": (combine(put("event_name", "Lead"),
                                       put("custom_data.currency", "dollars")),
                               "Invalid Currency Code", None),
    "custom_data not an object": (put("custom_data", "x"), "Invalid Custom Data", None),
    "contents not a list": (put("custom_data.contents", {"id": "a"}), "Invalid Contents", None),
    "contents item without id": (put("custom_data.contents", [{"quantity": 1}]),
                                 "Invalid Contents", None),
    "contents item without quantity": (put("custom_data.contents", [{"id": "sku"}]),
                                       "Invalid Contents", None),
    "contents quantity not integer": (put("custom_data.contents", [{"id": "a", "quantity": 1.5}]),
                                      "Invalid Contents", None),
    "LDU without location": (put("data_processing_options", ["LDU"]),
                             "Missing Limited Data Use Location", None),
    "LDU with country only": (combine(put("data_processing_options", ["LDU"]),
                                      put("data_processing_options_country", 1)),
                              "Missing Limited Data Use Location", None),
    "LDU with an unknown location": (combine(put("data_processing_options", ["LDU"]),
                                             put("data_processing_options_country", 1),
                                             put("data_processing_options_state", 0)),
                                     "Invalid Limited Data Use Location", None),
    "unknown processing option": (put("data_processing_options", ["GDPR"]),
                                  "Invalid Data Processing Options", None),
    "website event 8 days old": (combine(WEBSITE, aged(8 * DAY)), "Event Timestamp Too Old",
                                 2804003),
    "store event 63 days old": (aged(63 * DAY), "Event Timestamp Too Old", 2804003),
    "store event 8 days old with another source": (combine(put("action_source", "email"),
                                                           aged(8 * DAY)),
                                                   "Event Timestamp Too Old", 2804003),
    "event 2 minutes in the future": (aged(-120), "Event Timestamp In The Future", None),
    "milliseconds": (aged(-1_759_996_400_000), "Event Timestamp In The Future", None),
}

ACCEPTED = {
    "as built": unchanged,
    "hash lists": put("user_data.em", [sha("a@b.co"), sha("c@d.co")]),
    "single hash string": put("user_data.em", sha("a@b.co")),
    "store event 61 days old": aged(61 * DAY),
    "website event 6 days old": combine(WEBSITE, aged(6 * DAY)),
    "lowercase currency": put("custom_data.currency", "eur"),
    "integer value": put("custom_data.value", 10),
    "numeric text value": put("custom_data.value", "12.50"),
    "event_time as digits": digits,
    "LDU geolocated": combine(put("data_processing_options", ["LDU"]),
                              put("data_processing_options_country", 0),
                              put("data_processing_options_state", 0)),
    "LDU California": combine(put("data_processing_options", ["LDU"]),
                              put("data_processing_options_country", 1),
                              put("data_processing_options_state", 1000)),
    "explicitly not LDU": put("data_processing_options", []),
    "Lead without custom_data": combine(put("event_name", "Lead"), drop("custom_data")),
    "only a user agent": combine(put("event_name", "Lead"), drop("custom_data"),
                                 put("user_data", {"client_user_agent": "Mozilla/5.0"})),
    "only fbp and an ip": put("user_data", {"fbp": "fb.1.1596403881668.1116446470",
                                            "client_ip_address": "203.0.113.7"}),
    "30 seconds ahead": aged(-30),
    "exactly 7 days old": combine(put("action_source", "chat"), aged(7 * DAY)),
    "business_messaging": put("action_source", "business_messaging"),
    "numeric content id": put("custom_data.contents", [{"id": 12345, "quantity": 3}]),
    "no contents": drop("custom_data.contents"),
    "legacy price key in contents": put("custom_data.contents",
                                        [{"id": "a", "quantity": 1, "price": 2.5}]),
}


def mutated(make_event, clock, mutation):
    event = make_event()
    mutation(event, clock.now)
    return event


@pytest.mark.parametrize("case", list(REJECTED))
def test_invalid_event_rejects_the_request(emu, send, make_event, clock, case):
    mutation, title, subcode = REJECTED[case]
    response = send([mutated(make_event, clock, mutation)])
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"], error["type"]) == (100, "Invalid parameter",
                                                              "OAuthException")
    assert error["error_user_title"] == title
    assert error.get("error_subcode") == subcode
    assert error["error_user_msg"]
    assert emu.events() == [] and emu.received_count == 0
    assert emu.requests_rejected == 1 and emu.requests_accepted == 0


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_valid_event_is_accepted(emu, send, make_event, clock, case):
    event = mutated(make_event, clock, ACCEPTED[case])
    response = send([event])
    assert response.status_code == 200, response.text
    assert response.json()["events_received"] == 1
    assert emu.events() == [event]


def test_non_event_element_rejects_the_request(emu, send, make_event):
    response = send([make_event(), 7])
    assert response.status_code == 400
    assert response.json()["error"]["error_user_title"] == "Invalid Event"
    assert emu.events() == []


def test_too_old_message_names_the_window(send, make_event, clock):
    store = send([make_event(event_time=int(clock.now) - 70 * DAY)]).json()["error"]
    other = send([make_event(action_source="app", event_time=int(clock.now) - 8 * DAY)])
    assert "62 days" in store["error_user_msg"]
    assert "7 days" in other.json()["error"]["error_user_msg"]


def test_window_follows_the_emulator_clock(emu, send, make_event, clock):
    event = make_event(action_source="app")
    assert send([event]).status_code == 200
    clock.advance(7 * DAY)
    again = dict(event, event_id="other-id")
    again["custom_data"] = dict(event["custom_data"], order_id="order-2")
    response = send([again])
    assert response.json()["error"]["error_subcode"] == 2804003


def test_one_bad_event_rejects_the_whole_batch(emu, send, make_event):
    good = [make_event(f"ok-{i}") for i in range(5)]
    bad = make_event("bad", user_data={"em": "jane@example.com"})
    response = send(good[:2] + [bad] + good[2:])
    assert response.status_code == 400
    assert emu.events() == [] and emu.received_count == 0 and emu.duplicates == 0
    assert send(good).json()["events_received"] == 5
    assert len(emu.events()) == 5


def test_error_does_not_name_the_event_position(send, make_event):
    bad = make_event("bad", action_source="store")
    first = send([bad, make_event("x")]).json()["error"]
    last = send([make_event("y"), make_event("z"), bad]).json()["error"]
    for error in (first, last):
        del error["fbtrace_id"]
    assert first == last
    assert "2" not in json.dumps(last)


def test_the_first_problem_is_reported(send, make_event):
    first = make_event("a", action_source="store")
    second = make_event("b", user_data={})
    assert send([first, second]).json()["error"]["error_user_title"] == "Invalid Action Source"
    assert send([second, first]).json()["error"]["error_user_title"] == \
        "Missing Customer Information Parameters"


def test_pii_is_not_echoed_in_errors(send, make_event):
    response = send([make_event(user_data={"em": "jane.doe@example.com"})])
    assert "jane.doe" not in response.text


def test_hashed_values_in_unhashed_fields_are_accepted_with_a_warning(emu, send, make_event):
    event = make_event(user_data={"em": sha("a@b.co"), "fbp": sha("fb.1.2.3")})
    assert send([event]).status_code == 200
    assert emu.warnings == ["user_data.fbp looks like a SHA-256 hash; Meta expects it unhashed"]
    assert send([make_event("clean")]).status_code == 200
    assert len(emu.warnings) == 1
