"""StartDate and StopDate: zone-less local wall-clock times, as iQmetrix's RAML writes
them. The ``...T08:00:00.000Z`` strings on the rendered page are the portal generator's
rendering of local midnights (docs/rq.md, "Dates and zones"). offramp sends
``[D 00:00:00, D+1 00:00:00]`` without a zone; the emulator refuses zones by default,
and can play the other readings, under which offramp's windows hold the same rows."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from plugins.rq.emulator import DEMO_BEARER
from plugins.rq.emulator_dates import BadDate, DateRules
from plugins.rq.fixtures import SEED_ROW

REPORT = "/partner/FacebookOfflineConversions/MarketingReport"
D = dt.date(2024, 5, 1)
LOCAL = dt.datetime


@pytest.mark.parametrize(("text", "expected"), [
    ("2019-10-01T18:00:00.000", LOCAL(2019, 10, 1, 18)),  # DataConnect Deltas' form
    ("1970-01-01 00:00:00", LOCAL(1970, 1, 1)),  # the Marketing Report RAML's form
    ("2024-05-01T00:00:00", LOCAL(2024, 5, 1)),  # what offramp sends
    ("2024-05-01", LOCAL(2024, 5, 1)),
])
def test_zone_less_forms_are_local_times(text, expected):
    assert DateRules().parse("StartDate", text) == expected


@pytest.mark.parametrize(("text", "ignored", "converted"), [
    # the rendered page's two examples: local midnights in Pacific winter and summer time
    ("1970-01-01T08:00:00.000Z", LOCAL(1970, 1, 1, 8), LOCAL(1970, 1, 1)),
    ("2016-06-06T07:00:00.000Z", LOCAL(2016, 6, 6, 7), LOCAL(2016, 6, 6)),
    ("2024-05-01T00:00:00-04:00", LOCAL(2024, 5, 1), LOCAL(2024, 4, 30, 21)),
])
def test_zone_bearing_forms_under_each_reading(text, ignored, converted):
    with pytest.raises(BadDate, match="without a time zone or offset"):
        DateRules().parse("StartDate", text)  # the default: strict
    assert DateRules(zones="ignore").parse("StartDate", text) == ignored
    assert DateRules(zones="convert", store_zone="America/Vancouver").parse(
        "StartDate", text) == converted


def test_a_zone_is_refused_over_http_in_rqs_error_shape(emu):
    answer = requests.get(emu.url + REPORT, timeout=5,
                          headers={"Authorization": f"Bearer {DEMO_BEARER}"},
                          params={"CompanyID": "14682", "StartDate": "2024-05-01T07:00:00.000Z",
                                  "StopDate": "2024-05-02T07:00:00.000Z"})
    assert answer.status_code == 400
    assert answer.json() == {"Error": True, "Message": "StartDate must be the store's local "
                             "date and time, without a time zone or offset, e.g. "
                             "2024-05-01T00:00:00."}


def _sales(emu, company: int) -> list[LOCAL]:
    """A day of sales at the edges: local midnight, early morning, late evening, and the
    next day's midnight; returns their times."""
    times = [LOCAL(2024, 5, 1, 0, 0), LOCAL(2024, 5, 1, 6, 30), LOCAL(2024, 5, 1, 23, 59, 59),
             LOCAL(2024, 5, 2, 0, 0), LOCAL(2024, 5, 2, 7, 30)]
    emu.set_sales(company, [(when, {**SEED_ROW, "Email": f"s{i}@example.com"})
                            for i, when in enumerate(times)])
    return times


@pytest.mark.parametrize("zones", ["reject", "ignore", "convert"])
def test_a_days_sales_land_in_that_day_whatever_the_server_does_with_zones(rq, zones):
    emu = rq.emu
    emu.dates = DateRules(zones=zones)
    _sales(emu, rq.KENTEL)
    _, rec = rq.record(rq.source(), D, D + dt.timedelta(days=1), company=(rq.KENTEL,))
    by_day = {where["window_start"].date(): data.column("Email").to_pylist()
              for _, data, where in rec.calls}
    assert by_day == {D: ["s0@example.com", "s1@example.com", "s2@example.com"],
                      D + dt.timedelta(days=1): ["s3@example.com", "s4@example.com"]}
    sent = {(c.arg("StartDate"), c.arg("StopDate")) for c in rq.report_calls()}
    assert sent == {("2024-05-01T00:00:00", "2024-05-02T00:00:00"),
                    ("2024-05-02T00:00:00", "2024-05-03T00:00:00")}  # never a zone


def test_the_docs_utc_form_would_shift_the_day_on_a_server_that_drops_zones(rq):
    """Why offramp does not send the page's form: if the server keeps the digits and
    drops the zone, 08:00Z..08:00Z is 08:00..08:00 local, and the day moves."""
    emu = rq.emu
    emu.dates = DateRules(zones="ignore")
    _sales(emu, rq.KENTEL)
    answer = requests.get(emu.url + REPORT, timeout=5,
                          headers={"Authorization": f"Bearer {DEMO_BEARER}"},
                          params={"CompanyID": rq.KENTEL, "StartDate": "2024-05-01T07:00:00.000Z",
                                  "StopDate": "2024-05-02T07:00:00.000Z"})
    assert [r["Email"] for r in answer.json()] == ["s2@example.com", "s3@example.com"]


def test_an_inclusive_stop_counts_a_sale_at_midnight_in_both_days(rq):
    """Not documented either way: with an inclusive StopDate, the one sale stamped
    exactly at the next midnight is in two windows (docs/rq.md, known gaps)."""
    emu = rq.emu
    emu.dates = DateRules(stop="inclusive")
    _sales(emu, rq.KENTEL)
    _, rec = rq.record(rq.source(), D, D + dt.timedelta(days=1), company=(rq.KENTEL,))
    first = next(data for _, data, where in rec.calls if where["window_start"].date() == D)
    assert first.column("Email").to_pylist()[-1] == "s3@example.com"
