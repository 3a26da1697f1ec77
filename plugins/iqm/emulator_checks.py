"""Request validation and response objects for the IQM emulator's conversion routes.

The rules follow [IQM-DOCS] conversion-api.mdx, [IQM-OAS] mcp-conversion.json and
seed 003 (see shared/reference/seed_apis.md, B.3 and D.2):

* ``name`` is required (3-255 characters for universal pixels; we apply 1-255);
* ``attributionId`` must be 1, 2 or 3 (hybrid, click based, view based);
* ``conversionSetting.conversionDuration``: ``view`` in 1..30, ``click`` in 7..60;
* ``conversionSetting.repeatConversion``: ``count``, ``frequency``, ``unit`` required;
* postback: ``partnerTypeId`` in 1..4, ``impressionUrl`` and ``clickUrl`` required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PARTNERS = {1: "Kochava", 2: "Singular", 3: "Appsflyr", 4: "Adjust"}


class Invalid(Exception):
    """A validation failure: answered 422 with ``errorObjects[].field``."""

    def __init__(self, error: str, field_name: str):
        self.error = error
        self.field = field_name
        super().__init__(error)


@dataclass
class StoredConversion:
    id: int
    uuid: str
    name: str
    type_id: int  # 1 pixel, 2 postback
    ow_id: int
    uow_id: int
    created: int  # epoch ms
    body: dict[str, Any]
    campaigns: set[int] = field(default_factory=set)
    total_conversions: int = 0

    @property
    def type_name(self) -> str:
        return "Pixel" if self.type_id == 1 else "Postback"

    def script(self, pixel_base: str) -> str | None:
        if self.type_id != 1:
            return None
        return (f"<script src='{pixel_base}/i/pixel/{self.uuid}?cv={{CONVERSION_VALUE}}' "
                "async></script>")

    def listed(self, pixel_base: str) -> dict[str, Any]:
        """The conversion as the list and add endpoints show it."""
        partner = PARTNERS.get(self.body.get("partnerTypeId") or 0)
        return {
            "id": self.id, "name": self.name, "postbackPartnerName": partner,
            "status": "Pending" if self.type_id == 1 else "Active", "type": self.type_name,
            "created": self.created, "totalConversions": self.total_conversions,
            "owId": self.ow_id, "createdByUowId": self.uow_id, "modifiedByUowId": self.uow_id,
            "uuid": self.uuid, "attributedConversions": 0,
            "attributedViewThroughConversions": 0, "attributedClickThroughConversions": 0,
            "pixelFinancialMetric": self.body.get("financialMetrics"),
            "postbackPartnerLogoURL": None, "partnerUrl": self.body.get("impressionUrl"),
            "pixelConversionScript": self.script(pixel_base),
            "campaignCount": len(self.campaigns),
        }

    def details(self, pixel_base: str) -> dict[str, Any]:
        """The conversion as ``GET /api/v3/conversion/{id}`` shows it."""
        out = {"id": self.id, "name": self.name, "uuid": self.uuid, "typeId": self.type_id,
               "owId": self.ow_id, "createdByUowId": self.uow_id,
               "modifiedByUowId": self.uow_id, "statusId": 2 if self.type_id == 1 else 1}
        out.update({k: v for k, v in self.body.items() if k != "name"})
        if self.type_id == 1:
            out["pixelConversionScript"] = self.script(pixel_base)
        return out


def _int(value: Any, name: str, low: int | None = None, high: int | None = None,
         required: bool = True) -> int | None:
    if value is None:
        if required:
            raise Invalid(f"{name} is required", name)
        return None
    if isinstance(value, bool):
        raise Invalid(f"{name} must be an integer", name)
    if isinstance(value, str) and value.strip().isdigit():  # the seed sends "attributionId": "1"
        value = int(value)
    if not isinstance(value, int):
        raise Invalid(f"{name} must be an integer", name)
    if (low is not None and value < low) or (high is not None and value > high):
        raise Invalid(f"{name} must be between {low} and {high}", name)
    return value


def _name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Invalid("name is required", "name")
    if len(name) > 255:
        raise Invalid("name must be at most 255 characters", "name")
    return name


def check_pixel(body: Any) -> dict[str, Any]:
    """Validate a ``pixel/add`` body; returns it cleaned."""
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object", "body")
    _name(body)
    body["attributionId"] = _int(body.get("attributionId"), "attributionId", 1, 3)
    setting = body.get("conversionSetting")
    if not isinstance(setting, dict):
        raise Invalid("conversionSetting is required", "conversionSetting")
    duration = setting.get("conversionDuration")
    if duration is not None:
        if not isinstance(duration, dict):
            raise Invalid("conversionDuration must be an object", "conversionDuration")
        _int(duration.get("view"), "conversionDuration.view", 1, 30, required=False)
        _int(duration.get("click"), "conversionDuration.click", 7, 60, required=False)
    repeat = setting.get("repeatConversion")
    if not isinstance(repeat, dict):
        raise Invalid("repeatConversion is required", "conversionSetting.repeatConversion")
    _int(repeat.get("count"), "repeatConversion.count", 0, 1)
    _int(repeat.get("frequency"), "repeatConversion.frequency", 1, None)
    if repeat.get("unit") not in ("Day", "Hour"):
        raise Invalid("repeatConversion.unit must be Day or Hour", "repeatConversion.unit")
    if "crossModelling" in setting and not isinstance(setting["crossModelling"], bool):
        raise Invalid("crossModelling must be a boolean", "crossModelling")
    fields = body.get("customFields")
    if fields is not None and not (isinstance(fields, list)
                                   and all(isinstance(f, str) for f in fields)):
        raise Invalid("customFields must be a list of strings", "customFields")
    return body


def check_postback(body: Any) -> dict[str, Any]:
    """Validate a ``postback/add`` body; returns it cleaned."""
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object", "body")
    _name(body)
    body["partnerTypeId"] = _int(body.get("partnerTypeId"), "partnerTypeId", 1, 4)
    for key in ("impressionUrl", "clickUrl"):
        url = body.get(key)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise Invalid(f"{key} is required (an http(s) URL)", key)
    return body


def check_id_list(body: dict[str, Any], key: str, required: bool = False) -> list[int]:
    """A list of integers from an assign body."""
    value = body.get(key)
    if value is None:
        if required:
            raise Invalid(f"{key} is required", key)
        return []
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                              for v in value):
        raise Invalid(f"{key} must be a list of integers", key)
    if required and not value:
        raise Invalid(f"{key} must not be empty", key)
    return value
