"""Events mode: the pixel URL from pixelConversionScript, one fire per order with cv,
per-event outcomes, and no double fire when the core retries a batch."""

from __future__ import annotations

import pytest
import requests

from connector import Fatal, Retryable
from plugins.iqm import conversions
from tests.iqm.iqm_support import orders


def test_pixel_url_comes_from_the_conversion_script(make, emu):
    dest = make(mode="events")
    uuid = emu.conversion_named("Offline orders")[0].uuid
    assert dest.pixel == f"{emu.url}/i/pixel/{uuid}?cv={{CONVERSION_VALUE}}"


def test_fires_the_pixel_once_per_order_with_cv(make, emu):
    dest = make(mode="events")
    outcome = dest.deliver(orders(("A-1", "12.50"), ("A-2", "99.00"), ("A-3", "0.99")))
    assert outcome.rejected == {}
    assert outcome.info["pixels_fired"] == 3
    assert [hit["cv"] for hit in emu.pixel_hits] == ["12.50", "99.00", "0.99"]
    assert {hit["conversion_id"] for hit in emu.pixel_hits} == {dest.conversion.id}
    assert not any(hit["authorization"] for hit in emu.pixel_hits)  # no token to the pixel host
    assert emu.conversion_named("Offline orders")[0].total_conversions == 3


def test_a_pixel_refusal_rejects_only_that_order(make, emu):
    dest = make(mode="events")
    outcome = dest.deliver(orders(("A-1", "10.00"), ("A-2", "oops"), ("A-3", "5.00")))
    assert set(outcome.rejected) == {1}
    assert outcome.rejected[1].startswith("the IQM pixel refused order A-2 (HTTP 400)")
    assert [hit["cv"] for hit in emu.pixel_hits] == ["10.00", "5.00"]


def test_retried_batch_does_not_fire_twice(make, emu):
    dest = make(mode="events")
    pending = orders(("A-1", "1.00"), ("A-2", "2.00"), ("A-3", "3.00"))
    emu.pixel_outage(after=1, status=503)
    with pytest.raises(Retryable, match="answered 503 after 1 fires"):
        dest.deliver(pending)
    outcome = dest.deliver(pending)  # the core's retry of the same batch
    assert outcome.info == {"conversion_id": dest.conversion.id, "pixels_fired": 2,
                            "already_fired": 1}
    assert [hit["cv"] for hit in emu.pixel_hits] == ["1.00", "2.00", "3.00"]
    again = dest.deliver(pending)  # once a batch returned, its memory is dropped
    assert again.info["already_fired"] == 0 and len(emu.pixel_hits) == 6


def test_a_dropped_pixel_connection_is_retryable(make, emu):
    dest = make(mode="events")
    emu.inject(drop=True, path="/i/pixel/")
    with pytest.raises(Retryable, match="could not reach"):
        dest.deliver(orders(("A-1", "1.00")))
    assert dest.deliver(orders(("A-1", "1.00"))).info["pixels_fired"] == 1


def test_pixel_429_is_throttled_with_retry_after(make, emu):
    dest = make(mode="events")
    emu.throttle(path="/i/pixel/", retry_after=12)
    with pytest.raises(Retryable) as info:
        dest.deliver(orders(("A-1", "1.00")))
    assert info.value.throttled and info.value.retry_after == 12


def test_unknown_pixel_is_fatal(make, emu):
    dest = make(mode="events")
    emu.conversions.clear()
    with pytest.raises(Fatal, match="does not exist"):
        dest.deliver(orders(("A-1", "1.00")))


def test_pixel_base_url_replaces_the_scripts_host(make, emu):
    dest = make(mode="events", pixel_base_url="https://pxl.example.test/")
    assert dest.pixel.startswith("https://pxl.example.test/i/pixel/")
    assert dest.pixel.endswith("?cv={CONVERSION_VALUE}")


def test_pixel_template_rules():
    class Conv:
        id, uuid, script = 7, "abc", "<script src='https://pxl.iqm.test/i/pixel/abc' async>"

    s = type("S", (), {"pixel_base_url": None})()
    assert conversions.pixel_template(None, s, Conv) == (  # type: ignore[arg-type]
        "https://pxl.iqm.test/i/pixel/abc?cv={CONVERSION_VALUE}")
    assert conversions.pixel_url("https://p/i/pixel/x?cv={CONVERSION_VALUE}", "1.50") == (
        "https://p/i/pixel/x?cv=1.50")


def test_missing_pixel_script_needs_pixel_base_url(make, emu, monkeypatch):
    from plugins.iqm.emulator_checks import StoredConversion

    monkeypatch.setattr(StoredConversion, "script", lambda self, base: None)
    with pytest.raises(Fatal, match="set pixel_base_url"):
        make(mode="events")
    dest = make(mode="events", pixel_base_url=emu.url)
    uuid = emu.conversion_named("Offline orders")[0].uuid
    assert dest.pixel == f"{emu.url}/i/pixel/{uuid}?cv={{CONVERSION_VALUE}}"
    dest.deliver(orders(("A-1", "4.00")))
    assert emu.pixel_hits[-1]["cv"] == "4.00"


def test_the_pixel_answer_confirms_nothing(make, emu):
    """IQM does not document the pixel host's answer; the tag is a <script>, so the
    emulator answers an empty script by default, with no count and no attribution."""
    dest = make(mode="events")
    answer = requests.get(conversions.pixel_url(dest.pixel, "5.00") + "&order=A-1", timeout=5)
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["Content-Type"].startswith("application/javascript")
    (hit,) = emu.pixel_hits  # what was fired is seen only through the inspection API
    assert hit["attributed"] is False and hit["counted"] is True
    assert hit["ignored"] == ["order"]  # undocumented parameters are dropped
    listed = emu.conversion_named("Offline orders")[0].listed(emu.url)
    assert listed["totalConversions"] == 1 and listed["attributedConversions"] == 0


@pytest.mark.parametrize("answer", ["gif", "204", "javascript"])
def test_any_2xx_pixel_answer_counts_as_a_fire(make, emu, answer):
    emu.pixel_answer = answer
    dest = make(mode="events")
    assert dest.deliver(orders(("A-1", "1.00"), ("A-2", "2.00"))).info["pixels_fired"] == 2


def test_repeat_collapse_shows_how_cookieless_fires_undercount(make, emu, clock):
    """With repeatConversion count 1, IQM counts one conversion per user and period;
    fires from one server without a cookie look like one user."""
    emu.repeat_collapse = True
    dest = make(mode="events", repeat_count=1, repeat_frequency=1, repeat_unit="Day")
    assert dest.deliver(orders(("A-1", "1.00"), ("A-2", "2.00"), ("A-3", "3.00"))
                        ).info["pixels_fired"] == 3  # offramp cannot tell
    assert [hit["counted"] for hit in emu.pixel_hits] == [True, False, False]
    assert emu.conversion_named("Offline orders")[0].total_conversions == 1
    clock.advance(86400)
    dest.deliver(orders(("A-4", "4.00")))
    assert emu.conversion_named("Offline orders")[0].total_conversions == 2
