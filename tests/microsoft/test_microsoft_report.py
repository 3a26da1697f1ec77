"""The report: 7-day windows, goal-id chunks, merging, per-goal PartialErrors, outputs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from rich.console import Console

from connector import Fatal
from connector.kit import http
from connector.kit.secrets import from_env
from plugins.microsoft import report
from plugins.microsoft.client import MicrosoftClient
from plugins.microsoft.emulator import REPORT
from plugins.microsoft.emulator_rules import Goal, Upload, parse_report_query
from plugins.microsoft.report_render import render

D = dt.date


@pytest.mark.parametrize("start, end, expected", [
    (D(2026, 10, 1), D(2026, 10, 1), [(1, 1)]),
    (D(2026, 10, 1), D(2026, 10, 6), [(1, 6)]),
    (D(2026, 10, 1), D(2026, 10, 7), [(1, 6), (7, 7)]),
    (D(2026, 10, 1), D(2026, 10, 15), [(1, 6), (7, 12), (13, 15)]),
])
def test_windows_keep_six_days_and_cover_the_range(start, end, expected):
    got = report.windows(start, end)
    assert [(a.day, b.day) for a, b in got] == expected
    assert all((b - a).days < 6 for a, b in got)  # + the day after: 7 days asked


def test_windows_refuse_a_backwards_range():
    with pytest.raises(ValueError, match="ends"):
        report.windows(D(2026, 10, 2), D(2026, 10, 1))


def test_goal_ids_are_chunked_without_duplicates():
    ids = [str(i) for i in range(45)] + ["3"]
    got = report.chunks(ids, 20)
    assert [len(c) for c in got] == [20, 20, 5]
    assert sum(got, []) == [str(i) for i in range(45)]


def test_request_body_shape():
    body = report.request_body(D(2026, 10, 1), D(2026, 10, 6), ["4000123"],
                               ["CampaignManagementAPI", "BulkAPI"])
    assert body == {"StartDateUtc": "2026-10-01T00:00:00Z", "EndDateUtc": "2026-10-07T00:00:00Z",
                    "GoalIds": ["4000123"], "UploadChannelFilter": "CampaignManagementAPI, BulkAPI"}
    assert "UploadChannelFilter" not in report.request_body(D(2026, 10, 1), D(2026, 10, 1),
                                                            ["1"], [])


def _summary(goal: str, day: str, success: int, unattributed: int, alerts: dict[str, int]):
    alert_list = [{"UnattributedReason": r, "Count": str(n)} for r, n in alerts.items()]
    return {"GoalId": goal, "ConversionName": f"goal {goal}",
            "OverallSuccessCount": str(success), "OverallUnattributedCount": str(unattributed),
            "OverallSuccessRate": 0.0, "OverallAlerts": alert_list,
            "DailySummaries": [{"GoalId": goal, "UploadDate": f"{day}T00:00:00",
                                "SuccessCount": success, "UnattributedCount": unattributed,
                                "SuccessRate": 0.0, "Alerts": alert_list}]}


def test_merge_combines_windows_and_chunks_and_keeps_errors_per_goal():
    w1, w2 = (D(2026, 10, 1), D(2026, 10, 7)), (D(2026, 10, 8), D(2026, 10, 9))
    answers = [
        (w1, ["1", "2"], {"OfflineGoalConversionSummaries": [
            _summary("1", "2026-10-02", 3, 1, {"DuplicateConversionKey": 1})],
            "PartialErrors": [{"Code": 517, "ErrorCode": "CampaignServiceEntityIdInvalid",
                               "Message": "no", "Index": 1, "Type": "BatchError"}]}),
        (w1, ["3"], {"OfflineGoalConversionSummaries": [_summary("3", "2026-10-03", 1, 0, {})],
                     "PartialErrors": None}),
        (w2, ["1", "2"], {"OfflineGoalConversionSummaries": [
            _summary("1", "2026-10-08", 1, 2, {"NoMatchingClickFound": 2})],
            "PartialErrors": [{"Code": 517, "ErrorCode": "CampaignServiceEntityIdInvalid",
                               "Message": "no", "Index": 1, "Type": "BatchError"},
                              {"Code": 0, "ErrorCode": "InternalError", "Message": "?",
                               "Type": "BatchError"}]}),
        (w2, ["3"], {"OfflineGoalConversionSummaries": []}),
    ]
    merged = report.merge(D(2026, 10, 1), D(2026, 10, 9), [], ["1", "2", "3"], answers)
    assert merged.requests == 4
    one = merged.goals["1"]
    assert (one.success, one.unattributed, one.rate) == (4, 3, round(4 / 7, 6))
    assert one.alerts == {"DuplicateConversionKey": 1, "NoMatchingClickFound": 2}
    assert sorted(one.days) == [D(2026, 10, 2), D(2026, 10, 8)]
    assert one.conversion_name == "goal 1" and one.errors == []
    assert merged.goals["2"].errors == [
        "2026-10-01..2026-10-07: 517 CampaignServiceEntityIdInvalid: no",
        "2026-10-08..2026-10-09: 517 CampaignServiceEntityIdInvalid: no"]
    assert merged.goals["3"].rate == 1.0
    assert merged.errors == ["2026-10-08..2026-10-09: 0 InternalError: ?"]


@pytest.fixture
def client(emulator, creds, settings):
    def make(**overrides):
        return MicrosoftClient(settings(emulator, **overrides), http.session(),
                               read_secret=lambda env: from_env(env, "test"), timeout=5)
    return make


def _upload_days(emulator, clock, days: int, goal: str = "4000123", name: str = "Store Sale"):
    """One accepted upload per day, ``days`` days ending today (the emulator's clock)."""
    for back in range(days):
        at = clock.now - dt.timedelta(days=back)
        emulator.add_upload(Upload(goal, name, at - dt.timedelta(hours=1), at, click_id=f"c{back}",
                                   reason="NoMatchingClickFound" if back % 3 == 0 else None))


def test_fetch_splits_calls_and_merges_against_the_emulator(emulator, clock, client):
    for i in range(25):
        emulator.add_goal(Goal(str(5000000 + i), f"Goal {i}"))
    _upload_days(emulator, clock, 10)
    ids = ["4000123"] + [str(5000000 + i) for i in range(25)]
    result = report.fetch(client(), ids, D(2026, 9, 23), D(2026, 10, 2))
    calls = [c.json() for c in emulator.calls if c.path == REPORT]
    assert len(calls) == 2 * 2 == result.requests  # 10 days: 2 windows; 26 goals: 2 chunks
    assert all(len(c["GoalIds"]) <= 20 for c in calls)
    assert {(c["StartDateUtc"][:10], c["EndDateUtc"][:10]) for c in calls} == {
        ("2026-09-23", "2026-09-29"), ("2026-09-29", "2026-10-03")}
    goal = result.goals["4000123"]
    assert len(goal.days) == 10 and goal.conversion_name == "Store Sale"
    assert (goal.success, goal.unattributed) == (6, 4)
    assert goal.alerts == {"NoMatchingClickFound": 4}
    assert result.goals["5000000"].success == 0 and not result.goals["5000000"].errors


@pytest.mark.parametrize("report_end", ["inclusive", "exclusive"])
def test_each_upload_day_lands_in_that_day_under_both_readings(emulator, clock, client,
                                                                report_end):
    """EndDateUtc read as a whole day (inclusive) or as an instant (exclusive): the
    report gives every day once, with its own uploads, and totals that count each once."""
    emulator.report_end = report_end
    emulator.report_midnight_only = True  # offramp only ever sends midnights
    _upload_days(emulator, clock, 20)  # 2026-09-13 .. 2026-10-02, one upload a day
    result = report.fetch(client(), ["4000123"], D(2026, 9, 14), D(2026, 10, 1))
    goal = result.goals["4000123"]
    assert sorted(goal.days) == [D(2026, 9, 14) + dt.timedelta(days=n) for n in range(18)]
    assert all(d.success + d.unattributed == 1 for d in goal.days.values())
    assert goal.success + goal.unattributed == 18 == sum(goal.alerts.values()) + goal.success


def test_the_exclusive_reading_would_lose_the_last_day_of_a_same_day_end(emulator, clock):
    """Why the client asks for the day after: sent as the last day at midnight, an
    instant-reading server leaves that whole day out."""
    emulator.report_end = "exclusive"
    _upload_days(emulator, clock, 3)
    query = parse_report_query({"StartDateUtc": "2026-09-30T00:00:00Z",
                                "EndDateUtc": "2026-10-02T00:00:00Z", "GoalIds": ["4000123"]},
                               max_goal_ids=20, max_days=7, end_exclusive=True)
    assert [u.uploaded_at.day for u in emulator.accepted() if query.includes(u.uploaded_at)] == [
        1, 30]


def test_fetch_chunk_size_follows_the_setting(emulator, client):
    ids = [str(6000000 + i) for i in range(5)]
    result = report.fetch(client(), ids, D(2026, 10, 1), D(2026, 10, 2), chunk_size=2)
    assert [len(c.json()["GoalIds"]) for c in emulator.calls] == [2, 2, 1]
    assert all(len(result.goals[g].errors) == 1 for g in ids)  # unknown goals, kept per goal


def test_fetch_filters_by_channel(emulator, clock, client):
    emulator.add_upload(Upload("4000123", "Store Sale", clock.now, clock.now, channel="WebUpload"))
    emulator.add_upload(Upload("4000123", "Store Sale", clock.now, clock.now))
    result = report.fetch(client(), ["4000123"], D(2026, 10, 2), D(2026, 10, 2),
                          channels=["WebUpload"])
    assert emulator.calls[0].json()["UploadChannelFilter"] == "WebUpload"
    assert result.goals["4000123"].success == 1


def test_fetch_waits_out_throttling_and_retries_server_errors(emulator, client):
    waits: list[float] = []
    emulator.throttle(path=REPORT)
    emulator.server_error(path=REPORT)
    result = report.fetch(client(), ["4000123"], D(2026, 10, 1), D(2026, 10, 2),
                          sleep=waits.append)
    assert waits == [60.0, 2.0]
    assert result.requests == 1 and len(emulator.calls) == 3


def test_fetch_gives_up_after_repeated_failures(emulator, client):
    waits: list[float] = []
    emulator.server_error(path=REPORT, times=10)
    with pytest.raises(Fatal, match="gave up after 3 attempts"):
        report.fetch(client(), ["4000123"], D(2026, 10, 1), D(2026, 10, 2), sleep=waits.append,
                     max_attempts=3)
    assert waits == [2.0, 4.0]


def test_fetch_stops_on_a_refused_request(emulator, client):
    emulator.max_report_days = 3
    with pytest.raises(Fatal, match="201 ApiInputValidationError"):
        report.fetch(client(), ["4000123"], D(2026, 10, 1), D(2026, 10, 5))


def test_outputs_table_csv_json(emulator, clock, client):
    _upload_days(emulator, clock, 3)
    result = report.fetch(client(), ["4000123", "999"], D(2026, 9, 30), D(2026, 10, 2))
    table = result.daily_table()
    assert table.schema == report.DAILY_SCHEMA
    rows = table.to_pylist()
    assert [r["upload_date"] for r in rows] == [D(2026, 9, 30), D(2026, 10, 1), D(2026, 10, 2)]
    assert rows[2]["alerts"] == [{"reason": "NoMatchingClickFound", "count": 1}]
    assert rows[2]["success_rate"] == 0.0 and rows[0]["success_rate"] == 1.0
    assert result.errors_table().to_pylist() == [
        {"goal_id": "999", "error": "2026-09-30..2026-10-02: 517 CampaignServiceEntityIdInvalid: "
                                    "The entity identifier is invalid. Goal 999 was not found."}]
    lines = list(csv.DictReader(io.StringIO(result.to_csv())))
    assert lines[2] == {"goal_id": "4000123", "conversion_name": "Store Sale",
                        "upload_date": "2026-10-02", "success_count": "0",
                        "unattributed_count": "1", "success_rate": "0.000000",
                        "alerts": "NoMatchingClickFound:1"}
    data = json.loads(result.to_json())
    assert data["goals"][0]["success_count"] == 2 and data["goals"][0]["success_rate"] == 0.666667
    assert data["goals"][1]["errors"] and data["channels"] == ["all"]


def test_rendered_table_shows_rates_and_reasons(emulator, clock, client):
    _upload_days(emulator, clock, 3)
    result = report.fetch(client(), ["4000123"], D(2026, 9, 30), D(2026, 10, 2))
    console = Console(record=True, width=140)
    console.print(render(result))
    text = console.export_text()
    assert "goal 4000123 · Store Sale" in text
    assert "66.7% attributed (2 of 3)" in text
    assert "NoMatchingClickFound 1" in text and "2026-10-02" in text
