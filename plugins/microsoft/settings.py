"""Settings of the Microsoft Advertising destination (a job's ``[settings]`` table).

Secrets are never settings: the ``*_env`` fields name the environment variables
that hold them.
"""

from __future__ import annotations

from typing import Literal

import pydantic

from connector.kit import BaseUrl, Settings, pii
from plugins.microsoft import currencies

#: REST hosts of the Campaign Management service (msads ``bingads/service_client.py``).
HOSTS = {
    "production": "https://campaign.api.bingads.microsoft.com",
    "sandbox": "https://campaign.api.sandbox.bingads.microsoft.com",
}
#: OAuth token endpoints and scopes (msads ``bingads/authorization.py``).
TOKEN_URLS = {
    "production": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    "sandbox": "https://login.windows-ppe.net/consumers/oauth2/v2.0/token",
}
SCOPES = {
    "production": "https://ads.microsoft.com/msads.manage offline_access",
    "sandbox": "https://api.ads.microsoft.com/msads.manage offline_access",
}
#: OfflineConversionUploadChannel names (learn.microsoft.com offlineconversionuploadchannel).
UPLOAD_CHANNELS = ("CampaignManagementAPI", "BulkAPI", "WebUpload")


def _digits(value: object, field: str) -> str:
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"{field} must be a number such as 123456789 (got {value!r})")
    return text


class MicrosoftSettings(Settings):
    """What a Microsoft Advertising job may set; see docs/microsoft.md."""

    customer_id: str = pydantic.Field(description="Manager-account (customer) id, CustomerId.")
    account_id: str = pydantic.Field(description="Ad-account id, CustomerAccountId.")
    developer_token_env: str = "MSADS_DEVELOPER_TOKEN"
    access_token_env: str = "MSADS_ACCESS_TOKEN"
    refresh_token_env: str = "MSADS_REFRESH_TOKEN"
    client_secret_env: str = "MSADS_CLIENT_SECRET"
    client_id: str | None = pydantic.Field(
        None, description="OAuth application id; with a refresh token, expired access tokens "
                          "are renewed.")
    token_url: BaseUrl | None = pydantic.Field(None, description="OAuth token endpoint override.")
    environment: Literal["production", "sandbox"] = "production"
    base_url: BaseUrl | None = pydantic.Field(None, description="API host override (emulator).")
    conversion_name: str | None = pydantic.Field(
        None, description="Offline conversion goal name, unless the query has conversion_name.")
    currency: str | None = pydantic.Field(
        None, description="Currency code (Microsoft's conversion currency list) for rows "
                          "without a currency column or value.")
    default_country: str = pydantic.Field(
        "US", description="ISO alpha-2 country of phone numbers written without +country code.")
    goal_ids: list[str] = pydantic.Field(
        default_factory=list, description="Goal ids the report fetches by default.")
    goal_ids_per_report: int = pydantic.Field(
        20, ge=1, le=100, description="Goal ids per GetOfflineConversionReportByGoalIds call.")
    report_after_run: bool = pydantic.Field(
        False, description="After a run that delivered, fetch today's report for goal_ids and "
                           "keep it in the state file.")
    upload_channels: list[Literal["CampaignManagementAPI", "BulkAPI", "WebUpload"]] = (
        pydantic.Field(default_factory=list,
                       description="Report channel filter; empty: all channels."))

    @pydantic.field_validator("customer_id", "account_id", mode="before")
    @classmethod
    def _ids(cls, value: object, info: pydantic.ValidationInfo) -> str:
        return _digits(value, info.field_name or "id")

    @pydantic.field_validator("goal_ids", mode="before")
    @classmethod
    def _goal_ids(cls, value: object) -> list[str]:
        if not isinstance(value, list):
            raise ValueError("goal_ids must be a list such as [\"4000123\"]")
        return [_digits(v, "each goal id") for v in value]

    @pydantic.field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError("currency must be a three-letter code such as USD")
        reason = currencies.problem(code)
        if reason:
            raise ValueError(reason)
        return code

    @pydantic.field_validator("default_country")
    @classmethod
    def _country(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 2 or pii.calling_code(code) is None:
            raise ValueError(f"default_country {value!r} is not an ISO alpha-2 country code "
                             "(for example US or GB)")
        return code

    @pydantic.field_validator("conversion_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("conversion_name is empty: give the goal's name or remove it")
        return value.strip() if value else value

    # -- derived --------------------------------------------------------------------
    def api_base(self) -> str:
        """The Campaign Management host to call."""
        return (self.base_url or HOSTS[self.environment]).rstrip("/")

    def oauth_url(self) -> str:
        return self.token_url or TOKEN_URLS[self.environment]

    def oauth_scope(self) -> str:
        return SCOPES[self.environment]
