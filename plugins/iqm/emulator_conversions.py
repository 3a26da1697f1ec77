"""The IQM emulator's conversion routes: listing, creating (pixel and postback),
assigning to campaigns and listing a conversion's campaigns, each as IQM documents it
(docs/iqm.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connector.kit import Request, Response
from plugins.iqm.emulator_auth import Issued, User, ok
from plugins.iqm.emulator_checks import (
    Invalid,
    StoredConversion,
    check_id_list,
    check_pixel,
    check_postback,
)

if TYPE_CHECKING:
    from plugins.iqm.emulator import Campaign


class ConversionRoutes:
    """Mixed into :class:`plugins.iqm.emulator.IqmEmulator`."""

    url: str
    clock: Callable[[], float]
    users: dict[str, User]
    campaigns: dict[int, Campaign]
    conversions: dict[int, StoredConversion]
    _next_id: int

    def _list(self, request: Request, issued: Issued) -> Response:
        limit = _query_int(request, "limit", 20, 1, 1000)
        page = _query_int(request, "pageNo", 1, 1, None)
        search = (request.arg("searchField") or "").lower()
        type_ids = {int(t) for t in (request.arg("typeIds") or "").split(",") if t.strip()}
        ids = {int(t) for t in (request.arg("conversionIds") or "").split(",") if t.strip()}
        mine = [c for c in self.conversions.values() if c.ow_id == issued.ow_id]
        rows = [c for c in mine if search in c.name.lower()
                and (not type_ids or c.type_id in type_ids) and (not ids or c.id in ids)]
        sort = request.arg("sortBy") or "-created"
        key = sort.lstrip("+-")
        if key not in ("created", "id", "name"):
            raise Invalid("sortBy must be one of created, id, name", "sortBy")
        rows.sort(key=lambda c: (getattr(c, key), c.id), reverse=sort.startswith("-"))
        window = rows[(page - 1) * limit: page * limit]
        return ok({"data": [c.listed(self.url) for c in window], "totalRecords": len(mine),
                   "filteredRecords": len(rows)})

    def _add(self, request: Request, issued: Issued, *, pixel: bool) -> Response:
        raw = _json(request)
        body = check_pixel(raw) if pixel else check_postback(raw)
        self._next_id += 1
        user = self.users[issued.email]
        conversion = StoredConversion(
            id=self._next_id, uuid=uuid.UUID(int=self._next_id).hex, name=body["name"],
            type_id=1 if pixel else 2, ow_id=issued.ow_id, uow_id=user.uow_id,
            created=int(self.clock() * 1000), body=body)
        self.conversions[conversion.id] = conversion
        return ok(conversion.listed(self.url))

    def _assign(self, request: Request, issued: Issued) -> Response:
        body = _json(request)
        if not isinstance(body, dict):
            raise Invalid("the request body must be a JSON object", "body")
        conversion_ids = check_id_list(body, "conversionIdList", required=True)
        add = check_id_list(body, "addCampaignsList")
        remove = check_id_list(body, "removeCampaignsList")
        conversions = []
        for cid in conversion_ids:
            conversion = self.conversions.get(cid)
            if conversion is None or conversion.ow_id != issued.ow_id:
                raise Invalid(f"Invalid conversion id {cid}", "conversionIdList")
            conversions.append(conversion)

        def draft(campaign_id: int) -> bool:
            campaign = self.campaigns.get(campaign_id)
            return (campaign is not None and campaign.ow_id == issued.ow_id
                    and campaign.status == "draft")

        valid_add = [c for c in add if draft(c)]
        valid_remove = [c for c in remove if draft(c)]
        for conversion in conversions:
            conversion.campaigns.update(valid_add)
            conversion.campaigns.difference_update(valid_remove)
        return ok({
            "conversionIdsList": conversion_ids[0] if len(conversion_ids) == 1
            else conversion_ids,
            "validAddCampaignIdsList": valid_add,
            "invalidAddCampaignIdsList": [c for c in add if not draft(c)],
            "validRemoveCampaignIdsList": valid_remove,
            "invalidRemoveCampaignIdsList": [c for c in remove if not draft(c)],
        })

    def _attached(self, request: Request, issued: Issued) -> Response:
        cid = _query_int(request, "conversionId", None, 1, None)
        conversion = self.conversions.get(cid or 0)
        if conversion is None or conversion.ow_id != issued.ow_id:
            raise Invalid(f"Invalid conversion id {cid}", "conversionId")
        rows = [{"campaignId": c, "campaignName": self.campaigns[c].name if c in self.campaigns
                 else None, "status": self.campaigns[c].status if c in self.campaigns else None}
                for c in sorted(conversion.campaigns)]
        # The documented example puts the counts beside data, and spells "filterRecords".
        return Response(200, {"success": True, "data": rows, "totalRecords": len(rows),
                              "filterRecords": len(rows)})



def _json(request: Request) -> Any:
    """The request's JSON body; :class:`Invalid` (422, field ``body``) when it is not JSON."""
    try:
        return request.json()
    except ValueError:
        raise Invalid("the request body is not JSON", "body") from None


def _query_int(request: Request, name: str, default: int | None, low: int,
               high: int | None) -> int:
    value = request.arg(name)
    if value in (None, ""):
        if default is None:
            raise Invalid(f"{name} is required", name)
        return default
    try:
        number = int(value)
    except ValueError:
        raise Invalid(f"{name} must be an integer", name) from None
    if number < low or (high is not None and number > high):
        raise Invalid(f"{name} must be between {low} and {high}", name)
    return number
