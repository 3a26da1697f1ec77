"""What a long Meta run meets: usage headers and the pace they call for, throttling
(codes 4, 17, 613, 80003, 80004, with the time Meta says access returns), permission
errors (10, 200-299) and datasets that cannot take offline events, with Meta's shapes."""

from __future__ import annotations

import json
import os

import pytest

from connector import Batch, Fatal, RunContext
from connector.kit.errors import Retryable
from connector.kit.http import session
from connector.run import pipeline
from plugins.meta import usage
from plugins.meta.destination import MetaDestination, classify
from plugins.meta.settings import MetaSettings
from tests.meta.conftest import DATASET, NOW, TOKEN, row, settings_for

BUC = "X-Business-Use-Case-Usage"


def buc(call_count: int, minutes: int = 0, kind: str = "ads_management") -> dict[str, str]:
    return {BUC: json.dumps({DATASET: [{"type": kind, "call_count": call_count,
                                        "total_cputime": 5, "total_time": 5,
                                        "estimated_time_to_regain_access": minutes}]})}


# -- reading the headers -----------------------------------------------------------------
@pytest.mark.parametrize(("headers", "percent", "regain"), [
    (buc(80), 80, 0),
    (buc(100, minutes=3), 100, 180),
    ({"X-App-Usage": '{"call_count": 12, "total_cputime": 90, "total_time": 40}'}, 90, 0),
    ({"X-Ad-Account-Usage": '{"acc_id_util_pct": 97.5, "reset_time_duration": 120}'}, 97.5, 120),
    ({**buc(30), "X-App-Usage": '{"call_count": 76}'}, 76, 0),  # the highest one decides
])
def test_every_usage_header_is_read(headers, percent, regain):
    found = usage.read(headers)
    assert found is not None and (found.percent, found.regain) == (percent, regain)


@pytest.mark.parametrize("headers", [{}, {BUC: "not json"}, {BUC: "[1, 2]"},
                                     {"X-App-Usage": '{"call_count": "many"}'}])
def test_absent_or_unreadable_headers_change_nothing(headers):
    found = usage.read(headers)
    assert found is None or found.percent == 0


@pytest.mark.parametrize(("percent", "spacing", "pause"), [
    (10, 0, 0), (75, 0, 0), (85, 5, 0), (94, 9.5, 0), (95, 10, 60), (99, 10, 60)])
def test_the_pace_grows_with_usage(percent, spacing, pause):
    dest = MetaDestination(MetaSettings(dataset_id=DATASET), RunContext("j", NOW))
    dest.pacer.space(3)
    usage.pace(dest.pacer, usage.Usage(percent, 0, BUC))
    assert dest.pacer.spacing == pytest.approx(spacing)
    assert dest.pacer.pending_pause == pause


def test_a_pause_lasts_as_long_as_meta_says():
    dest = MetaDestination(MetaSettings(dataset_id=DATASET), RunContext("j", NOW))
    usage.pace(dest.pacer, usage.read(buc(97, minutes=4)))
    assert dest.pacer.pending_pause == 240
    usage.pace(dest.pacer, None)  # an answer without headers: no change
    assert dest.pacer.pending_pause == 240 and dest.pacer.spacing == usage.MAX_SPACING


# -- throttling ---------------------------------------------------------------------------
@pytest.mark.parametrize("code", [4, 17, 613, 80003, 80004])
def test_throttle_codes_wait_the_time_meta_gives(emu, code):
    emu.throttle(code=code)
    with pytest.raises(Retryable) as info:
        _open().deliver(_batch())
    assert info.value.throttled and info.value.retry_after == 60.0  # no usage header: 60 s
    assert f"(#{code})" in info.value.reason
    error = {"error": {"message": f"(#{code}) limit reached", "code": code,
                       "type": "OAuthException"}}
    found = classify(400, error, None, "T", DATASET, regain=usage.read(buc(100, 7)).regain)
    assert isinstance(found, Retryable) and found.throttled and found.retry_after == 420
    assert "access returns in 7 minutes" in found.reason


def test_the_emulators_meter_blocks_and_reports_when_access_returns(emu, _clock):
    emu.rate_limit(cost=40, window=300, block=120, code=80004, headers_from=0)
    dest = _open()
    dest.deliver(_batch("o-1"))
    dest.deliver(_batch("o-2"))  # 80 %
    assert dest.pacer.spacing == pytest.approx(2.5)
    with pytest.raises(Retryable) as info:
        dest.deliver(_batch("o-3"))  # 120 %: blocked for 2 minutes
    assert info.value.throttled and info.value.retry_after == 120
    assert "(#80004)" in info.value.reason
    _clock.now += 121
    assert dest.deliver(_batch("o-3")).rejected == {}
    assert emu.meter.throttled == 1


def _run_until_done(meta_project, emu, _clock, n: int) -> pipeline.RunSummary:
    def sleep(seconds: float) -> None:  # the run's waits move the emulator's clock
        _clock.now += seconds

    meta_project.write_rows([row(f"o-{i}") for i in range(n)])
    meta_project.write_job(settings_for(concurrency=1))
    return pipeline.run(meta_project.project, meta_project.job, now=NOW, sleep=sleep)


def test_a_long_run_slows_down_on_the_headers_before_meta_throttles(meta_project, emu, _clock):
    """20 requests at 6 % each would pass 100 % at the 17th; pacing on the headers keeps
    the run under the limit: it is never refused."""
    emu.rate_limit(cost=6, window=300, block=60, code=17, headers_from=0)
    summary = _run_until_done(meta_project, emu, _clock, 20_000)
    assert summary.status == "succeeded" and summary.counts.delivered == 20_000
    assert emu.meter.throttled == 0
    assert 0 < emu.meter.percent < 100


def test_without_pacing_the_same_run_is_throttled_and_waits(meta_project, emu, _clock,
                                                            monkeypatch):
    monkeypatch.setattr(usage, "pace", lambda pacer, used: None)
    emu.rate_limit(cost=6, window=300, block=60, code=17, headers_from=0)
    summary = _run_until_done(meta_project, emu, _clock, 20_000)
    assert summary.status == "succeeded" and summary.counts.delivered == 20_000
    assert emu.meter.throttled >= 1  # what pacing avoids


def test_headers_may_be_absent_at_low_usage(emu):
    emu.rate_limit(cost=1, headers_from=10)
    dest = _open()
    dest.deliver(_batch())
    assert BUC not in _last_headers(emu)
    assert dest.pacer.spacing == 0


# -- permissions and datasets -----------------------------------------------------------
@pytest.mark.parametrize(("code", "status"), [(10, 403), (200, 403), (200, 400), (294, 403)])
def test_permission_errors_stop_the_run_naming_the_token_and_dataset(emu, code, status):
    emu.deny(code=code, status=status)
    with pytest.raises(Fatal) as info:
        _open().deliver(_batch())
    reason = info.value.reason
    assert f"may not send events to dataset {DATASET} (Meta error {code}: (#{code})" in reason
    assert "META_ACCESS_TOKEN" in reason and "ads_management" in reason


def test_a_dataset_that_cannot_take_offline_events(emu, monkeypatch):
    monkeypatch.setattr(emu, "legacy_datasets", {DATASET})
    with pytest.raises(Fatal) as info:
        _open().deliver(_batch())
    assert info.value.reason.startswith(
        f"dataset {DATASET} cannot receive offline events through the Conversions API (Meta "
        "says its is_consolidated_container is false)")
    check = emu.calls[-1]
    assert check.method == "GET" and check.arg("fields") == "is_consolidated_container"
    assert check.header("authorization") == f"Bearer {TOKEN}" and TOKEN not in check.path


def test_an_unknown_dataset_keeps_the_general_message(emu, monkeypatch):
    monkeypatch.setattr(emu, "datasets", {"999"})
    with pytest.raises(Fatal, match=f"dataset {DATASET} does not exist, or the token"):
        _open().deliver(_batch())


def test_the_dataset_check_over_http(emu, monkeypatch):
    monkeypatch.setattr(emu, "legacy_datasets", {"555"})
    http = session()
    url = f"{emu.url}/v26.0/{{}}?fields=is_consolidated_container"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert http.get(url.format(DATASET), headers=auth, timeout=5).json() == {
        "id": DATASET, "is_consolidated_container": True}
    assert http.get(url.format("555"), headers=auth, timeout=5).json()[
        "is_consolidated_container"] is False
    assert http.get(url.format(DATASET), timeout=5).json()["error"]["code"] == 104


# -- helpers -----------------------------------------------------------------------------
def _open() -> MetaDestination:
    dest = MetaDestination(MetaSettings(**settings_for(base_url=_base())), RunContext("j", NOW))
    dest.open(session())
    return dest


def _base() -> str:
    return os.environ["META_BASE_URL"]


def _batch(order: str = "o-1") -> Batch:
    event = {"event_name": "Purchase", "event_time": int(NOW.timestamp()) - 3600,
             "action_source": "physical_store", "user_data": {"em": ["a" * 64]},
             "custom_data": {"order_id": order, "value": 10, "currency": "USD"}}
    return Batch(DATASET, [order], [json.dumps(event)])


def _last_headers(emu) -> dict[str, str]:
    response = session().post(f"{emu.url}/v26.0/{DATASET}/events", timeout=5,
                              data={"access_token": TOKEN, "data": _batch().array()})
    return dict(response.headers)
