"""The IQM destination's settings: the ``[settings]`` table of a job.

Secrets are never settings: the ``*_env`` fields name the environment variables
that hold them.
"""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import Field

from connector.kit import BaseUrl, Settings

#: IQM's static attribution types ([IQM-OAS] mcp-conversion.json).
ATTRIBUTION_IDS = {"hybrid": 1, "click_based": 2, "view_based": 3}
#: IQM's postback partner types ([IQM-OAS] mcp-conversion.json).
PARTNER_TYPE_IDS = {"kochava": 1, "singular": 2, "appsflyer": 3, "adjust": 4}
#: IQM's conversion type ids (``typeIds`` filter of the list endpoint).
TYPE_IDS = {"pixel": 1, "postback": 2}

#: What a pixel fired from a server can and cannot do, from IQM's own documents (see
#: docs/iqm.md, "Events mode"): the pixel is a browser tag, and attribution needs the
#: converting user's browser.
UNATTRIBUTED = (
    "IQM documents its conversion pixel only as a tag that runs in the converting user's "
    "browser; a fire from offramp's server carries no user, cookie or order time, so IQM "
    "cannot attribute it to an ad. At most it raises the conversion's Total Conversions count "
    "(which includes non-attributed fires), at the time of the fire, and IQM's answer does not "
    "say whether it counted")
EVENTS_NEED_OPT_IN = (
    f"mode = \"events\" fires IQM's conversion pixel from a server. {UNATTRIBUTED}. To fire "
    "anyway, set allow_unattributed_pixel_fires = true; to measure IQM campaigns, use "
    "mode = \"assign\" (see docs/iqm.md, \"Events mode\")")


class IqmSettings(Settings):
    """Settings of the ``iqm`` destination (see docs/iqm.md for the table)."""

    mode: Literal["assign", "events"] = Field(
        description="assign: the query yields campaign_id rows and the conversion is assigned to "
                    "those campaigns; events: the query yields orders and each fires the pixel.")
    conversion_name: str = Field(min_length=3, max_length=255,
                                 description="The conversion to find by name, or create.")
    conversion_id: int | None = Field(
        default=None, gt=0, description="Use this conversion id instead of finding it by name.")
    conversion_type: Literal["pixel", "postback"] = "pixel"
    workspace_host: str = Field(min_length=1, description="The X-IAA-HOST header: your IQM "
                                "workspace domain, e.g. app.iqm.com")
    base_url: BaseUrl = "https://api.iqm.com"
    auth: Literal["login", "oauth"] = Field(
        default="login", description="login: POST /api/v3/ua/login (JSON); oauth: POST "
                                     "/api/v3/ua/oauth/token (form).")
    ow_id: int | None = Field(default=None, gt=0, description="Organization workspace id; "
                              "needed when the token answer carries no owId.")
    client_id_env: str = "IQM_CLIENT_ID"
    client_secret_env: str = "IQM_CLIENT_SECRET"
    username_env: str = "IQM_USERNAME"
    password_env: str = "IQM_PASSWORD"

    # pixel conversion, used only when the conversion is created
    attribution: Literal["hybrid", "click_based", "view_based"] = "hybrid"
    view_days: int = Field(default=30, ge=1, le=30)
    click_days: int = Field(default=30, ge=7, le=60)
    repeat_count: Literal[0, 1] = Field(default=0, description="0: count every conversion of a "
                                        "user; 1: one per user per frequency/unit.")
    repeat_frequency: int = Field(default=1, ge=1)
    repeat_unit: Literal["Day", "Hour"] = "Day"
    cross_modelling: bool = False
    custom_fields: list[str] = Field(default_factory=list)
    financial_metric: str | None = None

    # postback conversion, used only when the conversion is created
    postback_partner: Literal["kochava", "singular", "appsflyer", "adjust"] | None = None
    impression_url: str | None = None
    click_url: str | None = None

    # assign mode
    mirror: bool = Field(default=False, description="Remove the conversion from campaigns the "
                         "query no longer names.")

    # events mode
    allow_unattributed_pixel_fires: bool = Field(
        default=False, description="Events mode only: fire the pixel from offramp's server "
        "although IQM cannot attribute such fires to ads (see UNATTRIBUTED).")
    pixel_base_url: BaseUrl | None = Field(
        default=None, description="Replace the scheme and host of the conversion's pixel URL.")
    currency: str = Field(default="USD", pattern=r"^[A-Za-z]{3}$")
    max_age_days: int = Field(default=30, ge=1, description="Orders older than this are rejected.")

    requests_per_minute: int = Field(default=20, ge=1, description="IQM's REST rate limit.")

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> IqmSettings:
        if self.conversion_type == "postback" and self.conversion_id is None:
            missing = [name for name in ("postback_partner", "impression_url", "click_url")
                       if not getattr(self, name)]
            if missing:
                raise ValueError("a postback conversion needs " + ", ".join(missing)
                                 + " (the measurement partner's tracking URLs)")
        if self.mode == "events" and not self.allow_unattributed_pixel_fires:
            raise ValueError(EVENTS_NEED_OPT_IN)
        if self.allow_unattributed_pixel_fires and self.mode != "events":
            raise ValueError("allow_unattributed_pixel_fires only applies to mode = \"events\"")
        if self.mode == "events" and self.conversion_type != "pixel":
            raise ValueError("mode = \"events\" fires a pixel: set conversion_type = \"pixel\"")
        if self.mirror and self.mode != "assign":
            raise ValueError("mirror = true only applies to mode = \"assign\"")
        for name in ("base_url", "pixel_base_url", "impression_url", "click_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("http://", "https://")):
                raise ValueError(f"{name} must start with http:// or https://")
        self.currency = self.currency.upper()
        return self

    @property
    def api(self) -> str:
        """The API base URL without a trailing slash."""
        return self.base_url.rstrip("/")
