"""Settings: validation messages, environments and derived URLs."""

from __future__ import annotations

import datetime as dt

import pydantic
import pytest

from plugins.microsoft.cli import report_for
from plugins.microsoft.settings import MicrosoftSettings

BASE = {"customer_id": "123", "account_id": 456}


def test_defaults_and_production_urls():
    s = MicrosoftSettings.model_validate(BASE)
    assert (s.customer_id, s.account_id) == ("123", "456")
    assert s.api_base() == "https://campaign.api.bingads.microsoft.com"
    assert s.oauth_url() == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert s.oauth_scope() == "https://ads.microsoft.com/msads.manage offline_access"
    assert (s.goal_ids_per_report, s.default_country, s.upload_channels) == (20, "US", [])
    assert (s.developer_token_env, s.access_token_env, s.refresh_token_env) == (
        "MSADS_DEVELOPER_TOKEN", "MSADS_ACCESS_TOKEN", "MSADS_REFRESH_TOKEN")


def test_sandbox_and_overrides():
    s = MicrosoftSettings.model_validate({**BASE, "environment": "sandbox"})
    assert s.api_base() == "https://campaign.api.sandbox.bingads.microsoft.com"
    assert s.oauth_url() == "https://login.windows-ppe.net/consumers/oauth2/v2.0/token"
    assert s.oauth_scope().startswith("https://api.ads.microsoft.com/")
    s = MicrosoftSettings.model_validate({**BASE, "base_url": "http://127.0.0.1:9/"})
    assert s.api_base() == "http://127.0.0.1:9"


def test_normalizes_currency_and_country():
    s = MicrosoftSettings.model_validate({**BASE, "currency": " eur ", "default_country": "gb",
                                          "goal_ids": [4000123, "4000124"]})
    assert (s.currency, s.default_country, s.goal_ids) == ("EUR", "GB", ["4000123", "4000124"])


@pytest.mark.parametrize("extra, message", [
    ({"customer_id": "abc"}, "customer_id must be a number"),
    ({"currency": "DOLLARS"}, "three-letter code such as USD"),
    ({"currency": "TRY"}, "has TRL instead"),
    ({"currency": "NPR"}, "not in Microsoft's conversion currency list"),
    ({"default_country": "Narnia"}, "not an ISO alpha-2 country code"),
    ({"goal_ids": ["x"]}, "each goal id must be a number"),
    ({"goal_ids_per_report": 0}, "greater than or equal to 1"),
    ({"environment": "staging"}, "'production' or 'sandbox'"),
    ({"upload_channels": ["Fax"]}, "CampaignManagementAPI"),
    ({"conversion_name": "  "}, "conversion_name is empty"),
    ({"access_token": "secret"}, "Extra inputs are not permitted"),
])
def test_bad_settings_say_what_is_wrong(extra, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        MicrosoftSettings.model_validate({**BASE, **extra})


def test_report_uses_the_channel_setting_by_default(emulator, creds, settings):
    s = settings(emulator, upload_channels=["BulkAPI", "WebUpload"])
    report_for(s, ["4000123"], dt.date(2026, 10, 1), dt.date(2026, 10, 1))
    assert emulator.calls[0].json()["UploadChannelFilter"] == "BulkAPI, WebUpload"
