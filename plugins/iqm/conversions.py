"""Finding or creating the job's conversion, and what hangs off it.

Endpoints ([IQM-DOCS] conversion-api.mdx, [IQM-OAS] mcp-conversion.json, seed 003):

* ``GET /api/v3/conversion/list?searchField=&typeIds=&limit=&pageNo=``: find by name;
* ``GET /api/v3/conversion/{id}``: one conversion (its ``pixelConversionScript``);
* ``POST /api/v3/conversion/pixel/add`` / ``postback/add``: create;
* ``POST /api/v3/conversion/assign-to/campaign``: add and remove campaigns;
* ``GET /api/v3/conversion/attached/campaigns/list?conversionId=``: the campaigns
  a conversion is attached to (for mirror mode).

Idempotence: the conversion is looked up by exact name (and type) before it is
created, so a re-run finds the conversion its first run created.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from connector.kit import ConfigError
from plugins.iqm.client import IqmClient
from plugins.iqm.errors import Refused
from plugins.iqm.settings import ATTRIBUTION_IDS, PARTNER_TYPE_IDS, TYPE_IDS, IqmSettings

log = logging.getLogger("offramp.iqm")

LIST = "/api/v3/conversion/list"
ASSIGN = "/api/v3/conversion/assign-to/campaign"
ATTACHED = "/api/v3/conversion/attached/campaigns/list"
PAGE = 100
PLACEHOLDER = "{CONVERSION_VALUE}"
_SRC = re.compile(r"""src\s*=\s*['"]([^'"]+)['"]""")


@dataclass
class Conversion:
    """The conversion a run works with."""

    id: int
    name: str
    type: str  # "pixel" or "postback"
    uuid: str | None
    script: str | None
    created: bool


def ensure(client: IqmClient, settings: IqmSettings) -> Conversion:
    """The conversion named in the settings: pinned by id, found by name, or created."""
    if settings.conversion_id is not None:
        try:
            data = client.call("GET", f"/api/v3/conversion/{settings.conversion_id}",
                               f"reading conversion {settings.conversion_id}")
        except Refused:
            data = None
        if not isinstance(data, dict) or not data.get("id"):
            raise ConfigError(f"IQM has no conversion {settings.conversion_id} in this "
                              "workspace: fix conversion_id or remove it to find by name")
        return _conversion(data, created=False, fallback_type=settings.conversion_type)
    found = find(client, settings.conversion_name)
    if len(found) > 1:
        ids = ", ".join(str(c["id"]) for c in found)
        raise ConfigError(f"IQM has {len(found)} conversions named {settings.conversion_name!r} "
                          f"(ids {ids}): set conversion_id to the one to use")
    if found:
        conversion = _conversion(found[0], created=False, fallback_type=None)
        if conversion.type != settings.conversion_type:
            raise ConfigError(
                f"the IQM conversion {settings.conversion_name!r} (id {conversion.id}) is a "
                f"{conversion.type} conversion: set conversion_type = \"{conversion.type}\" or "
                "choose another conversion_name")
        log.info("using IQM conversion %s (%s)", conversion.id, conversion.name)
        return conversion
    return create(client, settings)


def find(client: IqmClient, name: str) -> list[dict[str, Any]]:
    """Every conversion whose name is exactly ``name`` (IQM's search is a substring match)."""
    matches: list[dict[str, Any]] = []
    page = 1
    while True:
        params = {"searchField": name, "limit": PAGE, "pageNo": page, "sortBy": "+created"}
        data = client.call("GET", LIST, "listing conversions", params=params)
        data = data if isinstance(data, dict) else {}
        rows = data.get("data") or []
        matches += [row for row in rows if isinstance(row, dict) and row.get("name") == name]
        filtered = data.get("filteredRecords")
        if len(rows) < PAGE or (filtered is not None and page * PAGE >= int(filtered)):
            return matches
        page += 1


def create(client: IqmClient, settings: IqmSettings) -> Conversion:
    """Create the conversion the settings describe."""
    kind = settings.conversion_type
    body = pixel_body(settings) if kind == "pixel" else postback_body(settings)
    try:
        data = client.call("POST", f"/api/v3/conversion/{kind}/add",
                           f"creating the {kind} conversion {settings.conversion_name!r}",
                           json=body)
    except Refused as exc:
        raise ConfigError(f"{exc}: fix the conversion settings of the job") from None
    conversion = _conversion(data or {}, created=True, fallback_type=kind)
    log.info("created IQM %s conversion %s (%s)", kind, conversion.id, conversion.name)
    return conversion


def pixel_body(s: IqmSettings) -> dict[str, Any]:
    """The ``pixel/add`` request body (seed 003, step 2)."""
    body: dict[str, Any] = {
        "name": s.conversion_name,
        "attributionId": ATTRIBUTION_IDS[s.attribution],
        "conversionSetting": {
            "conversionDuration": {"view": s.view_days, "click": s.click_days},
            "repeatConversion": {"count": s.repeat_count, "frequency": s.repeat_frequency,
                                 "unit": s.repeat_unit},
            "crossModelling": s.cross_modelling,
        },
    }
    if s.custom_fields:
        body["customFields"] = list(s.custom_fields)
    if s.financial_metric:
        body["financialMetrics"] = s.financial_metric
    return body


def postback_body(s: IqmSettings) -> dict[str, Any]:
    """The ``postback/add`` request body ([IQM-OAS]: ``impressionUrl``, not ``impressionsUrl``)."""
    assert s.postback_partner is not None
    return {"name": s.conversion_name, "partnerTypeId": PARTNER_TYPE_IDS[s.postback_partner],
            "impressionUrl": s.impression_url, "clickUrl": s.click_url}


def _conversion(data: dict[str, Any], *, created: bool, fallback_type: str | None) -> Conversion:
    if not data.get("id"):
        raise ConfigError("IQM answered without a conversion id; check base_url")
    kind = str(data.get("type") or "").lower()
    if kind not in TYPE_IDS:
        # keyed by object: the answer's typeId may be any JSON value, or missing
        by_id: dict[object, str] = {v: k for k, v in TYPE_IDS.items()}
        kind = by_id.get(data.get("typeId"), fallback_type or "pixel")
    return Conversion(id=int(data["id"]), name=str(data.get("name") or ""), type=kind,
                      uuid=data.get("uuid"), script=data.get("pixelConversionScript"),
                      created=created)


def pixel_template(client: IqmClient, settings: IqmSettings, conversion: Conversion) -> str:
    """The pixel URL with ``{CONVERSION_VALUE}`` where the value goes.

    Taken from the conversion's ``pixelConversionScript``
    (``<script src='https://pxl.../i/pixel/<uuid>?cv={CONVERSION_VALUE}'>``); when
    ``pixel_base_url`` is set, its scheme and host replace the script's.
    """
    script = conversion.script
    if not script:
        data = client.call("GET", f"/api/v3/conversion/{conversion.id}",
                           f"reading conversion {conversion.id}")
        script = (data or {}).get("pixelConversionScript") if isinstance(data, dict) else None
        conversion.uuid = conversion.uuid or (data or {}).get("uuid")
    match = _SRC.search(script or "")
    if match:
        url = match.group(1)
    elif conversion.uuid and settings.pixel_base_url:
        url = f"{settings.pixel_base_url.rstrip('/')}/i/pixel/{conversion.uuid}?cv={PLACEHOLDER}"
    else:
        raise ConfigError(f"IQM gave no pixel script for conversion {conversion.id}: set "
                          "pixel_base_url (the pixel host, e.g. https://pxl.iqm.com)")
    if settings.pixel_base_url:
        parts = urlsplit(url)
        url = settings.pixel_base_url.rstrip("/") + url[len(f"{parts.scheme}://{parts.netloc}"):]
    if PLACEHOLDER not in url:
        url += ("&" if "?" in url else "?") + "cv=" + PLACEHOLDER
    return url


def pixel_url(template: str, cv: str) -> str:
    """The template with the conversion value filled in."""
    return template.replace(PLACEHOLDER, quote(cv, safe=".-"))


def attached_campaigns(client: IqmClient, conversion_id: int) -> set[int]:
    """The campaign ids the conversion is attached to, as IQM lists them."""
    data = client.call("GET", ATTACHED, f"listing the campaigns of conversion {conversion_id}",
                       params={"conversionId": conversion_id})
    rows = data.get("data") if isinstance(data, dict) else data
    ids: set[int] = set()
    for row in rows or []:
        if isinstance(row, dict):
            value = row.get("campaignId", row.get("id"))
            if value is not None:
                ids.add(int(value))
    return ids


@dataclass
class AssignResult:
    valid_add: set[int]
    invalid_add: set[int]
    valid_remove: set[int]
    invalid_remove: set[int]


def assign(client: IqmClient, conversion_id: int, add: list[int],
           remove: list[int]) -> AssignResult:
    """Assign the conversion to ``add`` and take it off ``remove`` (POST, per [IQM-OAS])."""
    body = {"conversionIdList": [conversion_id], "addCampaignsList": add,
            "removeCampaignsList": remove}
    data = client.call("POST", ASSIGN, f"assigning conversion {conversion_id} to campaigns",
                       json=body)
    data = data if isinstance(data, dict) else {}

    def ids(key: str) -> set[int]:
        return {int(v) for v in data.get(key) or []}

    return AssignResult(ids("validAddCampaignIdsList"), ids("invalidAddCampaignIdsList"),
                        ids("validRemoveCampaignIdsList"), ids("invalidRemoveCampaignIdsList"))
