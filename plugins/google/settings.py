"""Settings of the google destination (a job's ``[settings]`` table); see docs/google.md.

Secrets are never settings: the ``*_env`` fields name the environment variables that
hold them (the OAuth client and refresh token, or the path of a service-account key).
"""

from __future__ import annotations

import re
from typing import Literal

import pydantic

from connector.kit import BaseUrl, Seconds, Settings, pii

#: Google's API host and OAuth token endpoint.
BASE_URL = "https://datamanager.googleapis.com"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
#: ``EventSource`` values (event.proto) a job may choose.
EVENT_SOURCES = ("IN_STORE", "WEB", "APP", "PHONE", "OTHER", "MESSAGE")
#: Consent words a setting may use, and the ``ConsentStatus`` each stands for.
CONSENT_WORDS = {"granted": "CONSENT_GRANTED", "consent_granted": "CONSENT_GRANTED",
                 "denied": "CONSENT_DENIED", "consent_denied": "CONSENT_DENIED"}


def account_id(value: object, field: str) -> str:
    """A Google Ads customer id: 10 digits, hyphens (as the Ads UI shows them) removed."""
    text = str(value).strip().replace("-", "")
    if not re.fullmatch(r"\d{10}", text):
        raise ValueError(f"{field} must be a Google Ads customer id: 10 digits such as "
                         "123-456-7890 (hyphens are removed)")
    return text


def action_id(value: object, what: str) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"\d{1,20}", text):
        raise ValueError(f"{what} must be a conversion action id: digits, as in the "
                         "conversion action's URL (ctId=...) or the Google Ads API")
    return text


class GoogleSettings(Settings):
    """What a google job may set."""

    operating_account_id: str = pydantic.Field(
        description="The Google Ads account that owns the conversion actions.")
    login_account_id: str | None = pydantic.Field(
        None, description="A manager account the credentials reach the operating account "
                          "through.")
    conversion_action_id: str | None = pydantic.Field(
        None, description="The conversion action (productDestinationId) of rows without a "
                          "conversion_action column value.")
    conversion_actions: dict[str, str] = pydantic.Field(
        default_factory=dict, description="conversion_action column values (names) -> ids.")
    event_source: Literal["IN_STORE", "WEB", "APP", "PHONE", "OTHER", "MESSAGE"] = "IN_STORE"
    ad_user_data: str | None = pydantic.Field(
        None, description="Request-level consent for ad user data: granted or denied.")
    ad_personalization: str | None = pydantic.Field(
        None, description="Request-level consent for ad personalization: granted or denied.")
    consent_required: bool = pydantic.Field(
        False, description="Reject rows without ad_user_data consent (row or job default).")
    encoding: Literal["HEX", "BASE64"] = "HEX"
    default_country: str | None = pydantic.Field(
        None, description="ISO alpha-2 country of rows without one (phones, addresses).")
    max_age_days: int = pydantic.Field(
        90, ge=1, le=90, description="Older conversions are rejected before sending.")
    validate_only: bool = pydantic.Field(
        False, description="Send with validateOnly: Google checks, records nothing.")
    concurrency: int = pydantic.Field(4, ge=1, le=32)
    requests_per_minute: int = pydantic.Field(
        300, ge=1, description="events:ingest requests per minute (the Cloud project quota).")
    timeout: Seconds = 60.0
    base_url: BaseUrl = BASE_URL
    auth: Literal["oauth", "service_account"] = "oauth"
    client_id_env: str = "GOOGLE_ADS_CLIENT_ID"
    client_secret_env: str = "GOOGLE_ADS_CLIENT_SECRET"
    refresh_token_env: str = "GOOGLE_ADS_REFRESH_TOKEN"
    service_account_key_env: str = "GOOGLE_APPLICATION_CREDENTIALS"
    token_uri: BaseUrl | None = pydantic.Field(
        None, description="OAuth token endpoint (default: Google's, or the key file's).")
    status_wait_seconds: float = pydantic.Field(
        60.0, ge=0, le=3600, description="After a run, how long to poll requestStatus "
                                         "while requests are PROCESSING (0: not at all).")

    @pydantic.field_validator("operating_account_id", "login_account_id", mode="before")
    @classmethod
    def _accounts(cls, value: object, info: pydantic.ValidationInfo) -> str | None:
        return None if value is None else account_id(value, info.field_name or "account")

    @pydantic.field_validator("conversion_action_id", mode="before")
    @classmethod
    def _action(cls, value: object) -> str | None:
        return None if value is None else action_id(value, "conversion_action_id")

    @pydantic.field_validator("conversion_actions", mode="before")
    @classmethod
    def _actions(cls, value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ValueError('conversion_actions maps names to ids: {"store" = "123456789"}')
        return {str(name).strip(): action_id(v, f"conversion_actions[{name!r}]")
                for name, v in value.items()}

    @pydantic.field_validator("ad_user_data", "ad_personalization", mode="before")
    @classmethod
    def _consent(cls, value: object, info: pydantic.ValidationInfo) -> str | None:
        if value is None:
            return None
        word = str(value).strip().lower()
        if isinstance(value, bool):
            word = "granted" if value else "denied"
        if word not in CONSENT_WORDS:
            raise ValueError(f"{info.field_name} is granted or denied (or leave it out: Google "
                             "then uses the account's consent settings)")
        return CONSENT_WORDS[word]

    @pydantic.field_validator("base_url", "token_uri")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        """Addresses are checked by BaseUrl; paths are joined to them without a slash."""
        return value.rstrip("/") if value else value

    @pydantic.field_validator("default_country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if len(code) != 2 or pii.calling_code(code) is None:
            raise ValueError(f"default_country {value!r} is not an ISO alpha-2 country code "
                             "such as US")
        return code


    @pydantic.model_validator(mode="after")
    def _route(self) -> GoogleSettings:
        if not self.conversion_action_id and not self.conversion_actions:
            raise ValueError("set conversion_action_id (the conversion action's id), or "
                             "conversion_actions with a conversion_action column")
        return self

    # -- derived ------------------------------------------------------------------------
    def request_consent(self) -> dict[str, str]:
        """The request-level ``consent`` (the job's defaults), empty when neither is set."""
        out = {"adUserData": self.ad_user_data, "adPersonalization": self.ad_personalization}
        return {k: v for k, v in out.items() if v}
