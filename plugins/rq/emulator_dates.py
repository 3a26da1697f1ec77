"""How the RQ emulator reads ``StartDate`` and ``StopDate``.

What iQmetrix documents (docs/rq.md, "Dates and zones", checked 2026-12-04): the
parameters are the dates "at which the report will begin / end"; the RAML behind the
Marketing Report page gives them as local wall-clock times without a zone
(``1970-01-01 00:00:00``), and the ``...T08:00:00.000Z`` strings on the rendered page
come from the portal's generator, which read those examples as UTC and wrote them
back as Pacific time in ISO form. Other RQ Data Connect pages use zone-less local
times too. Nothing says what the server does with a zone, or whether ``StopDate``
is included.

So the emulator is strict where offramp must not depend on a guess:

* ``zones="reject"`` (default): a date with ``Z`` or an offset is answered 400 in
  RQ's error shape; ``"ignore"`` drops the zone and keeps the wall-clock digits;
  ``"convert"`` converts it to ``store_zone`` (the store database's local time);
* ``stop="exclusive"`` (default): a sale at exactly ``StopDate`` is left out;
  ``"inclusive"`` keeps it (a sale at midnight then shows in two day windows).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

ZONES = ("reject", "ignore", "convert")
STOPS = ("exclusive", "inclusive")


class BadDate(ValueError):
    """A date the emulator refuses; its text is the 400 answer's ``Message``."""


@dataclass(frozen=True)
class DateRules:
    zones: str = "reject"
    stop: str = "exclusive"
    store_zone: str = "America/Vancouver"

    def __post_init__(self) -> None:
        if self.zones not in ZONES:
            raise ValueError(f"zones must be one of {ZONES}, not {self.zones!r}")
        if self.stop not in STOPS:
            raise ValueError(f"stop must be one of {STOPS}, not {self.stop!r}")
        zoneinfo.ZoneInfo(self.store_zone)  # an unknown zone fails here, not per request

    def parse(self, name: str, value: str) -> dt.datetime:
        """The local wall-clock time of ``value`` (``2024-05-01T00:00:00``,
        ``2019-10-01T18:00:00.000``, ``1970-01-01 00:00:00``, ``2024-05-01``)."""
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise BadDate(f"{name} must be a date, e.g. 2024-05-01T00:00:00.") from None
        if moment.tzinfo is None:
            return moment
        if self.zones == "reject":
            raise BadDate(f"{name} must be the store's local date and time, without a time "
                          "zone or offset, e.g. 2024-05-01T00:00:00.")
        if self.zones == "convert":
            moment = moment.astimezone(zoneinfo.ZoneInfo(self.store_zone))
        return moment.replace(tzinfo=None)

    def includes(self, when: dt.datetime, start: dt.datetime, stop: dt.datetime) -> bool:
        if self.stop == "inclusive":
            return start <= when <= stop
        return start <= when < stop
