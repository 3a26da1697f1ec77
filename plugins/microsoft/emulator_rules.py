"""What the emulator checks in a request, rule by rule (seed_apis.md A.3-A.6, D.1)."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_AGE = dt.timedelta(days=90)
GOAL_WARMUP = dt.timedelta(hours=2)
CHANNELS = {"Unknown": 0, "CampaignManagementAPI": 1, "BulkAPI": 2, "WebUpload": 4}
FIELDS = {"MicrosoftClickId", "ConversionName", "ConversionTime", "ConversionValue",
          "ConversionCurrencyCode", "ExternalAttributionCredit", "ExternalAttributionModel",
          "HashedEmailAddress", "HashedPhoneNumber"}


@dataclass
class Goal:
    """An offline conversion goal the emulated account has."""

    id: str
    name: str
    created_at: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    active: bool = True
    #: ConversionWindowInMinutes: how long after a click a conversion counts.
    window: dt.timedelta = dt.timedelta(days=90)


@dataclass
class Upload:
    """One conversion the emulator accepted, and what its report will say about it."""

    goal_id: str
    name: str
    time: dt.datetime
    uploaded_at: dt.datetime
    click_id: str | None = None
    value: float | None = None
    currency: str | None = None
    email_hash: str | None = None
    phone_hash: str | None = None
    channel: str = "CampaignManagementAPI"
    #: an OfflineConversionUnattributedReason, or None when attributed.
    reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class Rejected(Exception):
    """A rule failed: ``code`` with an optional detail (and the field it is about)."""

    def __init__(self, code: int, detail: str | None = None, field_path: str | None = None):
        super().__init__(detail or str(code))
        self.code, self.detail, self.field_path = code, detail, field_path


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_time(value: str) -> dt.datetime:
    """ISO-8601 as the SDK sends it (``Z``, ``+00:00`` or naive = UTC); other offsets are
    refused: ConversionTime "must be UTC"."""
    parsed = dt.datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    if parsed.utcoffset() != dt.timedelta(0):
        raise ValueError("not UTC")
    return parsed.astimezone(dt.UTC)


def check_conversion(item: Any, now: dt.datetime, goals: dict[str, Goal], *,
                     require_click_id: bool, strict_fields: bool,
                     currencies: frozenset[str]) -> Upload:
    """One OfflineConversion; raises :class:`Rejected` with the first rule it breaks."""
    if not isinstance(item, dict):
        raise Rejected(5602)
    if strict_fields and set(item) - FIELDS:
        unknown = ", ".join(sorted(set(item) - FIELDS))
        raise Rejected(201, f"Unknown fields: {unknown}.")
    click = item.get("MicrosoftClickId")
    if click is not None and not isinstance(click, str):
        raise Rejected(5604, field_path="MicrosoftClickId")
    click = (click or "").strip() or None
    hashes = {}
    for key in ("HashedEmailAddress", "HashedPhoneNumber"):
        value = item.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or not HEX64.match(value):
            if key == "HashedEmailAddress" and isinstance(value, str) and "@" in value:
                raise Rejected(8004, field_path=key)
            raise Rejected(201, f"{key} must be a SHA-256 digest: 64 lowercase hex characters.",
                           key)
        hashes[key] = value
    if click is None and (require_click_id or not hashes):
        raise Rejected(5603, field_path="MicrosoftClickId")
    name = item.get("ConversionName")
    if not isinstance(name, str) or not name.strip():
        raise Rejected(5605, field_path="ConversionName")
    goal = goals.get(name)
    if goal is None:
        raise Rejected(5606, field_path="ConversionName")
    if now - goal.created_at < GOAL_WARMUP:
        raise Rejected(5615, field_path="ConversionName")
    when = _conversion_time(item.get("ConversionTime"), now)
    value = item.get("ConversionValue")
    if value is not None and (not is_number(value) or not math.isfinite(value) or value < 0):
        raise Rejected(5610, field_path="ConversionValue")
    currency = item.get("ConversionCurrencyCode")
    if currency is not None and (not isinstance(currency, str) or currency not in currencies):
        raise Rejected(5611, field_path="ConversionCurrencyCode")
    credit = item.get("ExternalAttributionCredit")
    if credit is not None and not is_number(credit):
        raise Rejected(201, "ExternalAttributionCredit must be a number.",
                       "ExternalAttributionCredit")
    model = item.get("ExternalAttributionModel")
    if model is not None and not isinstance(model, str):
        raise Rejected(201, "ExternalAttributionModel must be text.", "ExternalAttributionModel")
    return Upload(goal_id=goal.id, name=name, time=when, uploaded_at=now, click_id=click,
                  value=float(value) if value is not None else None, currency=currency,
                  email_hash=hashes.get("HashedEmailAddress"),
                  phone_hash=hashes.get("HashedPhoneNumber"), raw=dict(item))


def _conversion_time(value: Any, now: dt.datetime) -> dt.datetime:
    if value is None or value == "":
        raise Rejected(5608, field_path="ConversionTime")
    if not isinstance(value, str):
        raise Rejected(5607, field_path="ConversionTime")
    try:
        when = parse_time(value)
    except ValueError:
        raise Rejected(5607, field_path="ConversionTime") from None
    if when > now:
        raise Rejected(5614, field_path="ConversionTime")
    if when < now - MAX_AGE:
        raise Rejected(5609, field_path="ConversionTime")
    return when


# -- report requests ------------------------------------------------------------------------
@dataclass
class ReportQuery:
    """A report request's range, read as whole UTC days (both ends included), or, with
    ``end_exclusive``, as instants with the end left out."""

    start: dt.datetime
    end: dt.datetime
    goal_ids: list[str]
    channels: set[str] | None  # None: every channel
    end_exclusive: bool = False

    def includes(self, moment: dt.datetime) -> bool:
        if self.end_exclusive:
            return self.start <= moment < self.end
        return self.start.date() <= moment.date() <= self.end.date()


def parse_report_query(body: Any, *, max_goal_ids: int, max_days: int,
                       end_exclusive: bool = False, midnight_only: bool = False) -> ReportQuery:
    """A GetOfflineConversionReportByGoalIds request; raises :class:`Rejected`."""
    if not isinstance(body, dict):
        raise Rejected(100)
    start = _date(body.get("StartDateUtc"), "StartDateUtc", midnight_only)
    end = _date(body.get("EndDateUtc"), "EndDateUtc", midnight_only)
    if start > end:
        raise Rejected(201, "StartDateUtc must not be later than EndDateUtc.", "StartDateUtc")
    span = (end - start) if end_exclusive else (end.date() - start.date() + dt.timedelta(1))
    if span > dt.timedelta(days=max_days):
        raise Rejected(201, f"The date range is up to {max_days} days.", "EndDateUtc")
    ids = body.get("GoalIds")
    if not isinstance(ids, list) or not ids:
        raise Rejected(514, field_path="GoalIds")
    if len(ids) > max_goal_ids:
        raise Rejected(513, f"You can specify up to {max_goal_ids} goal IDs.", "GoalIds")
    goal_ids = []
    for value in ids:
        if is_number(value) and float(value).is_integer():
            goal_ids.append(str(int(value)))
        elif isinstance(value, str) and value.strip().isdigit():
            goal_ids.append(value.strip())
        else:
            raise Rejected(201, "GoalIds must be long integers (as numbers or strings).",
                           "GoalIds")
    return ReportQuery(start, end, goal_ids, _channels(body.get("UploadChannelFilter")),
                       end_exclusive)


def _date(value: Any, name: str, midnight_only: bool) -> dt.datetime:
    """A ``dateTime`` (``Z`` or an offset, converted to UTC), or a bare date (midnight UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise Rejected(113, f"{name} is required.", name)
    try:
        if "T" in value:
            moment = dt.datetime.fromisoformat(value.strip())
            moment = (moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None
                      else moment.astimezone(dt.UTC))
        else:
            moment = dt.datetime.combine(dt.date.fromisoformat(value.strip()), dt.time(),
                                         dt.UTC)
    except ValueError:
        raise Rejected(113, f"{name} is not a UTC date.", name) from None
    if midnight_only and moment.timetz() != dt.time(tzinfo=dt.UTC):
        raise Rejected(113, f"{name} must be a date at 00:00:00.", name)
    return moment


def _channels(value: Any) -> set[str] | None:
    """``UploadChannelFilter``: a comma- or space-separated flag list, or an int bit mask."""
    if value is None or value == "":
        return None
    if is_number(value) and int(value) == value:
        return {n for n, bit in CHANNELS.items() if bit & int(value)} or {"Unknown"}
    if not isinstance(value, str):
        raise Rejected(201, "UploadChannelFilter must be a list of channel names.",
                       "UploadChannelFilter")
    names = {part for part in re.split(r"[,\s]+", value.strip()) if part}
    unknown = names - set(CHANNELS)
    if unknown:
        raise Rejected(201, f"Unknown upload channel {sorted(unknown)[0]}.",
                       "UploadChannelFilter")
    return names
