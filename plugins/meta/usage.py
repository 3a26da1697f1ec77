"""Meta's usage headers, read on every answer, and the pace they call for.

Meta reports how much of a rate limit a caller has used in JSON response headers
(Graph API rate-limiting page; shapes as Meta's v4.0 changelog example and Airbyte's
Facebook Marketing connector read them):

* ``X-Business-Use-Case-Usage``: ``{"<business object id>": [{"type", "call_count",
  "total_cputime", "total_time", "estimated_time_to_regain_access"}]}``, percentages
  0-100 and the time to regain access in **minutes**;
* ``X-App-Usage``: ``{"call_count", "total_cputime", "total_time"}``;
* ``X-Ad-Account-Usage``: ``{"acc_id_util_pct", "reset_time_duration", ...}``
  (``reset_time_duration`` in seconds; used as the time to regain access only when no
  business use case header gives one).

Meta sends them on "most" answers, "once enough calls have been made", and does not say
which the Conversions API returns; an answer without them changes nothing. The highest
percentage found decides (:func:`pace`): from :data:`SLOW_AT` requests are spaced, more
as usage grows, up to :data:`MAX_SPACING` seconds; from :data:`PAUSE_AT` offramp pauses
for the time Meta says access returns in, at least :data:`MIN_PAUSE`; below
:data:`SLOW_AT` the spacing stops.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connector.kit.pacing import Pacer

SLOW_AT = 75.0
PAUSE_AT = 95.0
#: Seconds between request starts just below PAUSE_AT (0 at SLOW_AT, linear between).
MAX_SPACING = 10.0
MIN_PAUSE = 60.0
MAX_PAUSE = 900.0
HEADERS = ("X-Business-Use-Case-Usage", "X-App-Usage", "X-Ad-Account-Usage")
_PERCENTS = ("call_count", "total_cputime", "total_time", "acc_id_util_pct")


@dataclass(frozen=True)
class Usage:
    """The most used limit an answer reports.

    :param percent: the highest percentage in any usage header.
    :param regain: seconds until Meta says access returns (0: not blocked, or not said).
    :param where: which header and limit it was, for messages.
    """

    percent: float
    regain: float
    where: str


def read(headers: Mapping[str, str]) -> Usage | None:
    """The usage an answer's headers report, or None when it carries none."""
    found: list[Usage] = []
    for name in HEADERS:
        text = headers.get(name)
        if not text:
            continue
        try:
            data = json.loads(text)
        except ValueError:
            continue
        found += _usages(name, data)
    if not found:
        return None
    top = max(found, key=lambda u: (u.percent, u.regain))
    # The business use case's estimate is the one Meta names for regaining access; the
    # ad account's reset time only stands in when there is none.
    timed = [u for u in found if u.where.startswith(HEADERS[0])] or found
    return Usage(top.percent, max(u.regain for u in timed), top.where)


def _usages(name: str, data: Any) -> list[Usage]:
    if not isinstance(data, dict):
        return []
    if name != "X-Business-Use-Case-Usage":
        percent = _percent(data)
        regain = _number(data, "reset_time_duration") if percent >= PAUSE_AT else 0.0
        return [Usage(percent, regain, name)]
    out = []
    for entries in data.values():
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                minutes = _number(entry, "estimated_time_to_regain_access")
                out.append(Usage(_percent(entry), 60.0 * minutes,
                                 f"{name} ({entry.get('type', 'unknown type')})"))
    return out


def _percent(entry: Mapping[str, Any]) -> float:
    return max(_number(entry, key) for key in _PERCENTS)


def _number(entry: Mapping[str, Any], key: str) -> float:
    value = entry.get(key)
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return 0.0
    return 0.0


def pace(pacer: Pacer, usage: Usage | None) -> None:
    """Tell ``pacer`` what ``usage`` calls for (nothing when the answer had no headers)."""
    if usage is None:
        return
    if usage.percent >= PAUSE_AT:
        pacer.pause(min(MAX_PAUSE, max(MIN_PAUSE, usage.regain)))
        pacer.space(MAX_SPACING)
    elif usage.percent >= SLOW_AT:
        pacer.space(MAX_SPACING * (usage.percent - SLOW_AT) / (PAUSE_AT - SLOW_AT))
    else:
        pacer.space(0)


def regain_after(headers: Mapping[str, str]) -> float | None:
    """Seconds until Meta says access returns (for a throttled answer), or None."""
    usage = read(headers)
    return usage.regain if usage is not None and usage.regain > 0 else None
