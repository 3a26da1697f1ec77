"""The emulator on its own, over HTTP: what it validates and how it answers (seed_apis D.1)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import requests

from plugins.microsoft.emulator import (
    ACCESS_TOKEN,
    ACCOUNT_ID,
    APPLY,
    CLIENT_ID,
    CUSTOMER_ID,
    DEVELOPER_TOKEN,
    REFRESH_TOKEN,
    REPORT,
)
from plugins.microsoft.emulator_rules import Goal, Upload

HEADERS = {"Authorization": f"Bearer {ACCESS_TOKEN}", "DeveloperToken": DEVELOPER_TOKEN,
           "CustomerId": CUSTOMER_ID, "CustomerAccountId": ACCOUNT_ID,
           "Content-Type": "application/json"}


@pytest.fixture
def post(emulator):
    def send(path: str, body: Any, **headers: str | None) -> requests.Response:
        merged = {**HEADERS, **headers}
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return requests.post(emulator.url + path, data=data, timeout=5,
                             headers={k: v for k, v in merged.items() if v is not None})
    return send


def item(**fields: Any) -> dict[str, Any]:
    base = {"MicrosoftClickId": "clk", "ConversionName": "Store Sale",
            "ConversionTime": "2026-10-01T17:02:35Z"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def report_body(**fields: Any) -> dict[str, Any]:
    base = {"StartDateUtc": "2026-10-01T00:00:00Z", "EndDateUtc": "2026-10-07T00:00:00Z",
            "GoalIds": ["4000123"]}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("headers, status, kind, code", [
    ({"Authorization": None}, 400, "AdApiFaultDetail", 116),  # RequestMissingHeaders
    ({"DeveloperToken": None}, 400, "AdApiFaultDetail", 116),
    ({"Authorization": "Bearer nope"}, 401, "AdApiFaultDetail", 105),
    ({"Authorization": "nope"}, 401, "AdApiFaultDetail", 105),  # no Bearer prefix
    ({"DeveloperToken": "WRONG"}, 401, "AdApiFaultDetail", 105),
    ({"CustomerId": None}, 400, "ApiFaultDetail", 1029),
    ({"CustomerAccountId": None}, 400, "ApiFaultDetail", 1030),
    ({"CustomerId": "999"}, 400, "ApiFaultDetail", 1490),  # no such customer
    ({"CustomerAccountId": "111"}, 400, "ApiFaultDetail", 1102),  # no such account
    ({"CustomerAccountId": "8888"}, 403, "AdApiFaultDetail", 106),  # another customer's
])
def test_headers_are_checked_with_the_documented_codes(post, emulator, headers, status, kind,
                                                       code):
    emulator.accounts["2222"] = {"8888"}
    answer = post(APPLY, {"OfflineConversions": [item()]}, **headers)
    assert answer.status_code == status
    body = answer.json()
    assert body["Type"] == kind and body["TrackingId"]
    errors = body["Errors"] if kind == "AdApiFaultDetail" else body["OperationErrors"]
    assert errors[0]["Code"] == code
    assert answer.headers["TrackingId"] == answer.headers["X-Request-Id"] == body["TrackingId"]


def test_the_other_readings_of_the_header_codes(post, emulator):
    emulator.missing_header_code = 105
    answer = post(APPLY, {"OfflineConversions": [item()]}, DeveloperToken=None)
    assert answer.status_code == 401 and answer.json()["Errors"][0]["Code"] == 105
    emulator.invalid_customer = "auth_fault"
    answer = post(APPLY, {"OfflineConversions": [item()]}, CustomerId="999")
    assert answer.json()["Type"] == "AdCenterAuthenticationFault"
    assert answer.json()["ErrorCode"] == "InvalidCustomerId"


def test_the_wrapped_envelope(post, emulator):
    emulator.envelope = "wrapped"
    answer = post(APPLY, {"OfflineConversions": [item()]}, CustomerId=None)
    fault = answer.json()["ApplicationFault"]
    assert fault["Type"] == "ApiFaultDetail" and fault["OperationErrors"][0]["Code"] == 1029
    assert answer.headers["X-Request-Id"] == fault["TrackingId"]
    assert post(APPLY, {"OfflineConversions": [item()]}).json() == {"PartialErrors": None}


def test_expired_tokens_answer_109(post, emulator, clock):
    emulator.access_tokens["short-lived"] = clock() + 60
    assert post(APPLY, {"OfflineConversions": [item()]},
                Authorization="Bearer short-lived").status_code == 200
    clock.advance(seconds=61)
    answer = post(APPLY, {"OfflineConversions": [item()]}, Authorization="Bearer short-lived")
    assert answer.status_code == 401
    assert answer.json()["Errors"][0]["ErrorCode"] == "AuthenticationTokenExpired"


def test_path_method_and_content_type(emulator, post):
    assert post("/CampaignManagement/v13/Nope", {}).status_code == 404
    assert requests.get(emulator.url + APPLY, headers=HEADERS, timeout=5).status_code == 405
    assert post(APPLY, {"OfflineConversions": [item()]},
                **{"Content-Type": "text/plain"}).status_code == 415
    answer = post(APPLY, b"{not json")
    assert answer.status_code == 400 and answer.json()["OperationErrors"][0]["Code"] == 100


@pytest.mark.parametrize("body, code", [
    ({"OfflineConversions": []}, 5600),
    ({"OfflineConversions": None}, 5600),
    ({}, 5600),
    ({"OfflineConversions": [item(MicrosoftClickId=f"c{i}") for i in range(1001)]}, 5601),
])
def test_whole_request_limits_are_operation_errors(post, body, code):
    answer = post(APPLY, body)
    assert answer.status_code == 400
    fault = answer.json()
    assert fault["Type"] == "ApiFaultDetail" and fault["OperationErrors"][0]["Code"] == code


def test_a_thousand_conversions_are_accepted(post, emulator):
    answer = post(APPLY, {"OfflineConversions": [item(MicrosoftClickId=f"c{i}")
                                                 for i in range(1000)]})
    assert answer.status_code == 200 and answer.json() == {"PartialErrors": None}
    assert len(emulator.accepted()) == 1000


@pytest.mark.parametrize("conversion, code", [
    (None, 5602),
    (item(MicrosoftClickId=None), 5603),
    (item(MicrosoftClickId=""), 5603),
    (item(MicrosoftClickId=12), 5604),
    (item(ConversionName=None), 5605),
    (item(ConversionName="  "), 5605),
    (item(ConversionName="Unknown Goal"), 5606),
    (item(ConversionTime=None), 5608),
    (item(ConversionTime="yesterday"), 5607),
    (item(ConversionTime="2026-10-01T17:02:35+02:00"), 5607),
    (item(ConversionTime="2026-10-02T12:00:01Z"), 5614),
    (item(ConversionTime="2026-07-04T11:59:59Z"), 5609),
    (item(ConversionValue="12.5"), 5610),
    (item(ConversionValue=True), 5610),
    (item(ConversionValue=-1), 5610),
    (item(ConversionCurrencyCode="DOLLARS"), 5611),
    (item(ConversionCurrencyCode="TRY"), 5611),  # Microsoft's list has TRL, not TRY
    (item(ConversionCurrencyCode="NPR"), 5611),  # ISO 4217, not in Microsoft's list
    (item(ConversionCurrencyCode="eur"), 5611),  # case is undocumented: strict
    (item(HashedEmailAddress="jane@example.com"), 8004),
    (item(HashedEmailAddress="A" * 64), 201),
    (item(HashedPhoneNumber="+12125550100"), 201),
    (item(ExternalAttributionCredit="half"), 201),
    (item(Unknown="x"), 201),
])
def test_item_rules_give_batch_errors_by_index(post, emulator, conversion, code):
    answer = post(APPLY, {"OfflineConversions": [item(MicrosoftClickId="ok"), conversion]})
    assert answer.status_code == 200
    [error] = answer.json()["PartialErrors"]
    assert error["Index"] == 1 and error["Code"] == code and error["Type"] == "BatchError"
    assert error["ErrorCode"] and error["Message"]
    assert [u.click_id for u in emulator.accepted()] == ["ok"]


@pytest.mark.parametrize("conversion", [
    item(ConversionTime="2026-10-01T17:02:35"),
    item(ConversionTime="2026-10-01T17:02:35.123+00:00"),
    item(ConversionValue=12),
    item(ConversionCurrencyCode="EUR"),
    item(ConversionCurrencyCode="TRL"),
    item(MicrosoftClickId=None, HashedEmailAddress="a" * 64),
    item(MicrosoftClickId=None, HashedPhoneNumber="b" * 64),
    item(ConversionTime="2026-07-04T12:00:00Z"),
])
def test_accepted_forms(post, emulator, conversion):
    answer = post(APPLY, {"OfflineConversions": [conversion]})
    assert answer.json() == {"PartialErrors": None}
    assert len(emulator.accepted()) == 1


def test_click_id_can_be_required(post, emulator):
    emulator.require_click_id = True
    answer = post(APPLY, {"OfflineConversions": [item(MicrosoftClickId=None,
                                                      HashedEmailAddress="a" * 64)]})
    assert answer.json()["PartialErrors"][0]["Code"] == 5603


def test_a_goal_younger_than_two_hours_refuses_uploads(post, emulator, clock):
    emulator.add_goal(Goal("4000200", "New Goal", created_at=clock.now - dt.timedelta(minutes=90)))
    answer = post(APPLY, {"OfflineConversions": [item(ConversionName="New Goal")]})
    assert answer.json()["PartialErrors"][0]["Code"] == 5615
    clock.advance(minutes=31)
    answer = post(APPLY, {"OfflineConversions": [item(ConversionName="New Goal")]})
    assert answer.json() == {"PartialErrors": None}


def test_the_report_is_derived_from_what_was_accepted(post, emulator, clock):
    emulator.click_checks = "report"  # click problems show in the report, not at upload
    emulator.known_clicks = {"clk": clock.now - dt.timedelta(days=2),
                             "late": clock.now}
    emulator.add_goal(Goal("4000300", "Paused Goal", active=False))
    post(APPLY, {"OfflineConversions": [
        item(), item(),  # a duplicate: accepted silently
        item(MicrosoftClickId="unknown"),
        item(MicrosoftClickId="late"),
        item(ConversionName="Paused Goal"),
    ]})
    answer = post(REPORT, report_body(GoalIds=["4000123", 4000300, "999"]))
    assert answer.status_code == 200
    body = answer.json()
    sale, paused = body["OfflineGoalConversionSummaries"]
    assert sale["GoalId"] == "4000123" and sale["ConversionName"] == "Store Sale"
    assert sale["OverallSuccessCount"] == "1" and sale["OverallUnattributedCount"] == "3"
    assert sale["OverallSuccessRate"] == 0.25
    assert {a["UnattributedReason"]: a["Count"] for a in sale["OverallAlerts"]} == {
        "ClickTimestampAfterConversion": "1", "DuplicateConversionKey": "1",
        "NoMatchingClickFound": "1"}
    [day] = sale["DailySummaries"]
    assert day["UploadDate"].startswith("2026-10-02") and day["GoalId"] == "4000123"
    assert (day["SuccessCount"], day["UnattributedCount"]) == (1, 3)
    assert isinstance(day["SuccessCount"], int)
    assert paused["OverallAlerts"] == [{"Count": "1", "UnattributedReason":
                                        "GoalNotFoundOrInactive"}]
    [error] = body["PartialErrors"]
    assert error["Index"] == 2 and error["Code"] == 517 and error["Type"] == "BatchError"


def test_report_rates_have_six_decimals(post, emulator, clock):
    emulator.known_clicks = {"a": clock.now - dt.timedelta(days=2)}
    post(APPLY, {"OfflineConversions": [item(MicrosoftClickId=c) for c in ("a", "b", "c")]})
    summary = post(REPORT, report_body()).json()["OfflineGoalConversionSummaries"][0]
    assert summary["OverallSuccessRate"] == 0.333333


def test_report_upload_channel_filter(post, emulator, clock):
    emulator.add_upload(Upload("4000123", "Store Sale", clock.now, clock.now,
                               channel="WebUpload"))
    post(APPLY, {"OfflineConversions": [item()]})

    def successes(channel_filter: Any) -> str:
        answer = post(REPORT, report_body(UploadChannelFilter=channel_filter))
        assert answer.status_code == 200, answer.text
        return answer.json()["OfflineGoalConversionSummaries"][0]["OverallSuccessCount"]

    assert successes(None) == "2"
    assert successes("CampaignManagementAPI") == "1"
    assert successes("CampaignManagementAPI, WebUpload") == "2"
    assert successes("BulkAPI WebUpload") == "1"
    assert successes(4) == "1"
    assert post(REPORT, report_body(UploadChannelFilter="Fax")).status_code == 400


@pytest.mark.parametrize("fields, code", [
    ({"EndDateUtc": "2026-10-08T00:00:00Z"}, 201),  # 8 days
    ({"StartDateUtc": "2026-10-08T00:00:00Z"}, 201),  # start after end
    ({"StartDateUtc": None}, 113),
    ({"EndDateUtc": "next week"}, 113),
    ({"GoalIds": []}, 514),
    ({"GoalIds": [str(4000000 + i) for i in range(21)]}, 513),
    ({"GoalIds": ["abc"]}, 201),
    ({"GoalIds": [True]}, 201),
])
def test_report_request_rules(post, fields, code):
    answer = post(REPORT, report_body(**fields))
    assert answer.status_code == 400
    fault = answer.json()
    assert fault["Type"] == "ApiFaultDetail" and fault["OperationErrors"][0]["Code"] == code


def test_report_goal_limit_is_configurable(post, emulator):
    ids = [str(4000000 + i) for i in range(100)]
    assert post(REPORT, report_body(GoalIds=ids)).status_code == 400
    emulator.max_goal_ids = 100
    answer = post(REPORT, report_body(GoalIds=ids))
    assert answer.status_code == 200
    assert len(answer.json()["PartialErrors"]) == 100  # none of them exists


def test_token_endpoint(emulator):
    url = emulator.url + "/common/oauth2/v2.0/token"
    ok = requests.post(url, data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                  "refresh_token": REFRESH_TOKEN}, timeout=5)
    assert ok.status_code == 200
    token = ok.json()["access_token"]
    assert token in emulator.access_tokens and ok.json()["refresh_token"]
    bad = requests.post(url, data={"grant_type": "refresh_token", "client_id": CLIENT_ID,
                                   "refresh_token": "nope"}, timeout=5)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    grant = requests.post(url, data={"grant_type": "password"}, timeout=5)
    assert grant.json()["error"] == "unsupported_grant_type"


def test_fault_helpers_and_control_api(emulator, post):
    emulator.throttle(http_429=False)
    answer = post(APPLY, {"OfflineConversions": [item()]})
    assert answer.status_code == 400 and answer.json()["Errors"][0]["Code"] == 117
    emulator.server_error(status=503)
    answer = post(APPLY, {"OfflineConversions": [item()]})
    assert answer.status_code == 503 and answer.json()["Type"] == "AdCenterInternalErrorFault"
    requests.post(emulator.url + "/__emulator__/faults", json={"status": 429, "times": 1},
                  timeout=5)
    assert post(APPLY, {"OfflineConversions": [item()]}).status_code == 429
    assert post(APPLY, {"OfflineConversions": [item()]}).status_code == 200
    state = requests.get(emulator.url + "/__emulator__/state", timeout=5).json()
    assert state["uploads"][0]["MicrosoftClickId"] == "clk"
    assert state["uploads"][0]["GoalId"] == "4000123"


def test_the_currency_list_is_configurable(post, emulator):
    emulator.currencies = frozenset({"TRY", "USD"})  # the "any ISO code" reading
    answer = post(APPLY, {"OfflineConversions": [item(ConversionCurrencyCode="TRY")]})
    assert answer.json() == {"PartialErrors": None}


@pytest.mark.parametrize("click_days_ago, window, code", [
    (-1, dt.timedelta(days=90), 5616),  # clicked after the conversion
    (5, dt.timedelta(days=1), 5617),  # clicked before the goal's window
])
def test_click_problems_are_upload_errors_by_default(post, emulator, clock, click_days_ago,
                                                     window, code):
    emulator.add_goal(Goal("4000400", "Short Window", window=window))
    conversion = clock.now - dt.timedelta(days=1)
    emulator.known_clicks = {"clk": conversion - dt.timedelta(days=click_days_ago)}
    answer = post(APPLY, {"OfflineConversions": [
        item(MicrosoftClickId="other"),  # unknown clicks are judged later, in the report
        item(ConversionName="Short Window", ConversionTime=conversion.strftime(
            "%Y-%m-%dT%H:%M:%SZ"))]})
    [error] = answer.json()["PartialErrors"]
    assert (error["Index"], error["Code"], error["Type"]) == (1, code, "BatchError")
    assert [u.click_id for u in emulator.accepted()] == ["other"]


def test_conversions_outside_the_goal_window_are_unattributed(post, emulator, clock):
    emulator.click_checks = "report"
    emulator.add_goal(Goal("4000400", "Short Window", window=dt.timedelta(days=1)))
    emulator.known_clicks = {"clk": clock.now - dt.timedelta(days=5)}
    post(APPLY, {"OfflineConversions": [item(ConversionName="Short Window")]})
    summary = post(REPORT, report_body(GoalIds=["4000400"])).json()[
        "OfflineGoalConversionSummaries"][0]
    assert summary["OverallAlerts"] == [{"Count": "1",
                                         "UnattributedReason": "OutsideGoalLookbackWindow"}]


def test_control_routes_drive_faults_from_another_process(emulator, post):
    control = emulator.url + "/__emulator__/"
    assert requests.post(control + "throttle", json={"http_429": False, "retry_after": 5},
                         timeout=5).json()["fault"]["headers"] == {"Retry-After": "5"}
    answer = post(APPLY, {"OfflineConversions": [item()]})
    assert answer.status_code == 400 and answer.headers["Retry-After"] == "5"
    requests.post(control + "fail_apply", json={"times": 1}, timeout=5)
    assert post(APPLY, {"OfflineConversions": [item()]}).json()["PartialErrors"][0]["Code"] == 5612
    requests.post(control + "goals", json={"id": 4000500, "name": "Calls"}, timeout=5)
    assert post(APPLY, {"OfflineConversions": [item(ConversionName="Calls")]}).json() == {
        "PartialErrors": None}
    requests.post(control + "expire_token", json={}, timeout=5)
    assert post(APPLY, {"OfflineConversions": [item()]}).json()["Errors"][0]["Code"] == 109
    assert requests.post(control + "fault_code", json={"nope": 1}, timeout=5).status_code == 400
    requests.post(control + "reset", json={}, timeout=5)
    assert emulator.accepted() == [] and "Calls" not in emulator.goals
