"""The google destination's settings: what they accept, and the messages for what not."""

from __future__ import annotations

import pydantic
import pytest

from plugins.google.settings import GoogleSettings

BASE = {"operating_account_id": "123-456-7890", "conversion_action_id": "555"}


def make(**overrides):
    return GoogleSettings(**{**BASE, **overrides})


def test_account_ids_take_the_hyphens_of_the_ads_ui_and_lose_them() -> None:
    s = make(login_account_id="987-654-3210")
    assert (s.operating_account_id, s.login_account_id) == ("1234567890", "9876543210")


@pytest.mark.parametrize("value", ["12345", "123-456-789O", "12345678901"])
def test_an_account_id_that_is_not_ten_digits_is_refused_with_the_format(value) -> None:
    with pytest.raises(pydantic.ValidationError, match="10 digits such as 123-456-7890"):
        make(operating_account_id=value)


def test_a_job_needs_a_conversion_action() -> None:
    with pytest.raises(pydantic.ValidationError, match="set conversion_action_id"):
        GoogleSettings(operating_account_id="1234567890")
    with pytest.raises(pydantic.ValidationError, match="conversion action id: digits"):
        make(conversion_action_id="purchase")
    named = GoogleSettings(operating_account_id="1234567890",
                           conversion_actions={"store": "111", "web": 222})
    assert named.conversion_actions == {"store": "111", "web": "222"}


def test_consent_defaults_become_the_request_consent() -> None:
    s = make(ad_user_data="Granted", ad_personalization="denied")
    assert s.request_consent() == {"adUserData": "CONSENT_GRANTED",
                                   "adPersonalization": "CONSENT_DENIED"}
    assert make().request_consent() == {}
    with pytest.raises(pydantic.ValidationError, match="ad_user_data is granted or denied"):
        make(ad_user_data="maybe")


def test_other_settings_are_checked() -> None:
    assert make(default_country="gb").default_country == "GB"
    for bad, message in ((dict(default_country="XX"), "not an ISO alpha-2"),
                         (dict(event_source="STORE"), "event_source"),
                         (dict(encoding="UTF8"), "encoding"),
                         (dict(requests_per_minute=0), "requests_per_minute"),
                         (dict(base_url="datamanager.googleapis.com"), "http:// or https://"),
                         (dict(max_age_days=120), "max_age_days"),
                         (dict(developer_token="x"), "developer_token")):
        with pytest.raises(pydantic.ValidationError, match=message):
            make(**bad)
