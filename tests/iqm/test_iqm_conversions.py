"""Ensuring the conversion exists: found by name, else created (pixel or postback),
never twice; the emulator's validation of create bodies."""

from __future__ import annotations

import pydantic
import pytest
import requests

from connector import Fatal
from plugins.iqm import IqmSettings
from plugins.iqm.emulator_checks import StoredConversion
from tests.iqm.iqm_support import api_calls

POSTBACK = {"conversion_type": "postback", "postback_partner": "kochava",
            "impression_url": "https://imp.control.kochava.com/track/impression?campaign_id=k1",
            "click_url": "https://imp.control.kochava.com/track/click?campaign_id=k1"}


def test_creates_the_pixel_conversion_with_its_settings(make, emu):
    dest = make(attribution="click_based", view_days=7, click_days=45, repeat_count=1,
                repeat_frequency=2, repeat_unit="Hour", cross_modelling=True,
                custom_fields=["store"], financial_metric="revenue")
    (add,) = api_calls(emu, "/api/v3/conversion/pixel/add")
    assert add.json() == {
        "name": "Offline orders", "attributionId": 2,
        "conversionSetting": {"conversionDuration": {"view": 7, "click": 45},
                              "repeatConversion": {"count": 1, "frequency": 2, "unit": "Hour"},
                              "crossModelling": True},
        "customFields": ["store"], "financialMetrics": "revenue"}
    assert dest.conversion.created and dest.conversion.type == "pixel"
    assert dest.conversion.id == emu.conversion_named("Offline orders")[0].id


def test_rerun_finds_the_conversion_instead_of_creating_a_duplicate(make, emu):
    first = make()
    second = make()
    third = make(mode="events")
    assert len(emu.conversion_named("Offline orders")) == 1
    assert len(api_calls(emu, "/api/v3/conversion/pixel/add")) == 1
    assert first.conversion.id == second.conversion.id == third.conversion.id
    assert not second.conversion.created
    lookup = api_calls(emu, "/api/v3/conversion/list")[-1]
    assert lookup.arg("searchField") == "Offline orders"


def test_a_similar_name_is_not_a_match(make, emu):
    make(conversion_name="Offline orders (old)")
    dest = make()
    assert dest.conversion.created
    assert len(emu.conversions) == 2


def test_lookup_pages_through_many_search_hits(make, emu):
    # IQM's search is a substring match: all 120 are hits, none is the exact name
    for i in range(120):
        emu.conversions[10_000 + i] = StoredConversion(
            id=10_000 + i, uuid=f"{i:032x}", name=f"Offline orders #{i}", type_id=1,
            ow_id=emu.OW_ID, uow_id=1, created=i, body={})
    dest = make()
    assert dest.conversion.created
    pages = [c.arg("pageNo") for c in api_calls(emu, "/api/v3/conversion/list")]
    assert pages == ["1", "2"]
    again = make()
    assert again.conversion.id == dest.conversion.id and not again.conversion.created


def test_creates_a_postback_conversion(make, emu):
    dest = make(**POSTBACK)
    (add,) = api_calls(emu, "/api/v3/conversion/postback/add")
    assert add.json() == {"name": "Offline orders", "partnerTypeId": 1,
                          "impressionUrl": POSTBACK["impression_url"],
                          "clickUrl": POSTBACK["click_url"]}
    assert dest.conversion.type == "postback"
    make(**POSTBACK)
    assert len(emu.conversion_named("Offline orders")) == 1


def test_same_name_with_another_type_is_a_config_error(make, emu):
    make(**POSTBACK)
    with pytest.raises(Fatal, match='postback conversion: set conversion_type = "postback"'):
        make()


def test_two_conversions_with_the_name_ask_for_conversion_id(make, emu):
    make()
    make(conversion_name="Other")
    emu.conversions[max(emu.conversions)].name = "Offline orders"
    with pytest.raises(Fatal, match="set conversion_id"):
        make()
    pinned = min(emu.conversions)
    dest = make(conversion_id=pinned)
    assert dest.conversion.id == pinned


def test_unknown_conversion_id_is_a_config_error(make):
    with pytest.raises(Fatal, match="fix conversion_id"):
        make(conversion_id=999_999)


EVENTS = {"mode": "events", "allow_unattributed_pixel_fires": True}


def test_settings_rules():
    base = {"mode": "assign", "conversion_name": "Orders", "workspace_host": "app.iqm.com"}
    assert IqmSettings(**base).base_url == "https://api.iqm.com"
    with pytest.raises(pydantic.ValidationError, match="postback_partner, impression_url"):
        IqmSettings(**base, conversion_type="postback")
    with pytest.raises(pydantic.ValidationError, match="conversion_type = \"pixel\""):
        IqmSettings(**{**base, **EVENTS}, **POSTBACK)
    with pytest.raises(pydantic.ValidationError, match="mirror"):
        IqmSettings(**{**base, **EVENTS}, mirror=True)
    with pytest.raises(pydantic.ValidationError):
        IqmSettings(**base, view_days=31)
    with pytest.raises(pydantic.ValidationError):
        IqmSettings(**base, click_days=6)
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        IqmSettings(**base, password="nope")


def _token(emu) -> dict[str, str]:
    answer = requests.post(emu.url + "/api/v3/ua/oauth/token",
                           data={"grant_type": "password", "username": emu.EMAIL,
                                 "password": emu.PASSWORD},
                           auth=(emu.CLIENT_ID, emu.CLIENT_SECRET), timeout=5).json()
    return {"Authorization": f"Bearer {answer['access_token']}",
            "X-IAA-OW-ID": str(emu.OW_ID)}  # the unwrapped answer has no owId


GOOD_PIXEL = {"name": "P", "attributionId": 1, "conversionSetting": {
    "conversionDuration": {"view": 10, "click": 10},
    "repeatConversion": {"count": 1, "frequency": 1, "unit": "Day"}}}


@pytest.mark.parametrize(("change", "field"), [
    ({"attributionId": 4}, "attributionId"),
    ({"name": ""}, "name"),
    ({"conversionSetting": {"conversionDuration": {"view": 31, "click": 10},
                            "repeatConversion": {"count": 1, "frequency": 1, "unit": "Day"}}},
     "conversionDuration.view"),
    ({"conversionSetting": {"conversionDuration": {"view": 1, "click": 6},
                            "repeatConversion": {"count": 1, "frequency": 1, "unit": "Day"}}},
     "conversionDuration.click"),
    ({"conversionSetting": {"repeatConversion": {"count": 1, "frequency": 1}}},
     "repeatConversion.unit"),
    ({"conversionSetting": {}}, "conversionSetting.repeatConversion"),
])
def test_emulator_validates_pixel_bodies(emu, change, field):
    response = requests.post(emu.url + "/api/v3/conversion/pixel/add", json={
        **GOOD_PIXEL, **change}, headers=_token(emu), timeout=5)
    assert response.status_code == 422
    body = response.json()
    assert body["success"] is False and body["errorObjects"][0]["field"] == field
    ok = requests.post(emu.url + "/api/v3/conversion/pixel/add", json=GOOD_PIXEL,
                       headers=_token(emu), timeout=5)
    assert ok.status_code == 200 and ok.json()["data"]["status"] == "Pending"
    assert "/i/pixel/" in ok.json()["data"]["pixelConversionScript"]


@pytest.mark.parametrize(("change", "field"), [
    ({"partnerTypeId": 5}, "partnerTypeId"),
    ({"impressionUrl": None}, "impressionUrl"),
    ({"clickUrl": "ftp://x"}, "clickUrl"),
])
def test_emulator_validates_postback_bodies(emu, change, field):
    good = {"name": "PB", "partnerTypeId": 1, "impressionUrl": "https://a/imp",
            "clickUrl": "https://a/click"}
    response = requests.post(emu.url + "/api/v3/conversion/postback/add",
                             json={**good, **change}, headers=_token(emu), timeout=5)
    assert response.status_code == 422
    assert response.json()["errorObjects"][0]["field"] == field


def test_emulator_requires_bearer_and_matching_workspace_id(emu):
    headers = _token(emu)
    url = emu.url + "/api/v3/conversion/list"
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    missing = requests.get(url, headers={"X-IAA-OW-ID": headers["X-IAA-OW-ID"]}, timeout=5)
    assert missing.status_code == 401
    assert missing.json()["errorObjects"][0]["error"] == "Invalid token"
    wrong = requests.get(url, headers={**headers, "X-IAA-OW-ID": "1"}, timeout=5)
    assert wrong.status_code == 403 and wrong.json()["errorObjects"][0]["error"] == "Forbidden !"
