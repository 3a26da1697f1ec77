"""Offline-event deduplication: Meta keeps the first event per key within 7 days."""

from __future__ import annotations

DAY = 86_400


def orders(emu):
    return [e["custom_data"]["order_id"] for e in emu.events()]


def test_resent_order_counts_as_received_but_is_kept_once(emu, send, make_event):
    event = make_event("o1")
    assert send([event]).json()["events_received"] == 1
    assert send([event]).json()["events_received"] == 1
    assert orders(emu) == ["o1"]
    assert (emu.received_count, emu.duplicates, emu.requests_accepted) == (2, 1, 2)


def test_duplicates_inside_one_request(emu, send, make_event):
    event = make_event("o1")
    assert send([event, make_event("o2"), event]).json()["events_received"] == 3
    assert orders(emu) == ["o1", "o2"]
    assert (emu.received_count, emu.duplicates) == (3, 1)


def test_the_first_event_is_kept(emu, send, make_event):
    send([make_event("o1")])
    changed = make_event("o1")
    changed["custom_data"]["value"] = 99.0
    send([changed])
    assert [e["custom_data"]["value"] for e in emu.events()] == [42.5]


def test_key_includes_event_time_name_item_and_dataset(emu, send, make_event):
    base = make_event("o1")
    later = make_event("o1", event_time=base["event_time"] + 1)
    renamed = make_event("o1", event_name="Lead")
    item = make_event("o1")
    item["custom_data"]["item_number"] = 2
    for event in (base, later, renamed, item):
        assert send([event]).status_code == 200
    assert send([base], dataset="555").status_code == 200
    assert emu.duplicates == 0
    assert len(emu.events()) == 5
    assert len(emu.events("555")) == 1 and len(emu.events("1234567890")) == 4


def test_event_id_is_the_key_without_order_id(emu, send, make_event):
    def without_order(event_id, **fields):
        event = make_event(event_id=event_id, **fields)
        del event["custom_data"]["order_id"]
        return event

    first = without_order("e1")
    send([first, without_order("e1", event_time=first["event_time"] - 10),
          without_order("e1", event_name="Lead"), without_order("e2")])
    assert [(e["event_id"], e["event_name"]) for e in emu.events()] == [
        ("e1", "Purchase"), ("e1", "Lead"), ("e2", "Purchase")]
    assert emu.duplicates == 1


def test_user_based_key_without_order_or_event_id(emu, send, make_event):
    def anonymous(**fields):
        event = make_event(**fields)
        del event["custom_data"]["order_id"], event["event_id"]
        return event

    send([anonymous(), anonymous()])
    other_person = anonymous()
    other_person["user_data"]["em"] = ["0" * 64]
    send([other_person])
    assert len(emu.events()) == 2 and emu.duplicates == 1


def test_dedup_window_is_7_days(emu, send, make_event, clock):
    event = make_event("o1", event_time=int(clock.now) - DAY)
    send([event])
    clock.advance(7 * DAY)
    send([event])
    assert emu.duplicates == 1
    clock.advance(1)
    send([event])
    assert emu.duplicates == 1 and len(emu.events()) == 2


def test_rejected_requests_leave_no_dedup_key(emu, send, make_event):
    event = make_event("o1")
    assert send([event, make_event("bad", action_source="nowhere")]).status_code == 400
    send([event])
    assert emu.duplicates == 0 and orders(emu) == ["o1"]
