"""The IQM emulator's ingestion routes: the conversion pixel, and Segment's ``/open``.

What IQM documents, and so what this emulates (docs/iqm.md, "Events mode"):

* ``pixel/add`` answers a ``pixelConversionScript``, a ``<script src=".../i/pixel/<uuid>
  ?cv={CONVERSION_VALUE}">`` tag meant to run in the converting user's browser; ``cv``
  is the only documented parameter;
* IQM attributes a conversion to the ad the *user* last clicked or viewed; its *Total
  Conversions* count includes fires it could not attribute;
* what the pixel host answers is not documented.

So a fire here never counts as attributed: it raises the conversion's
``total_conversions`` (IQM's Total Conversions) and nothing else, and its answer
says nothing about attribution or counts (``pixel_answer``: ``"javascript"``, an
empty script, by default, since the tag is a ``<script>``; ``"gif"``; or ``"204"``).
What was fired is visible only through the inspection API (``pixel_hits``,
``snapshot()``). Query parameters other than ``cv`` are undocumented: they are
recorded as ``ignored``. With ``repeat_collapse``, a conversion whose
``repeatConversion.count`` is 1 counts one fire per ``frequency`` x ``unit``: fires from
one server, without a cookie, look like one user, and IQM's per-user repeat rule would
collapse them (an inference, docs/iqm.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.kit import Request, Response
from plugins.iqm.emulator_checks import StoredConversion

PIXEL_ANSWERS = ("javascript", "gif", "204")
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
       b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
_UNIT_SECONDS = {"hour": 3600.0, "day": 86400.0}


class PixelRoutes:
    """Mixed into :class:`plugins.iqm.emulator.IqmEmulator`."""

    clock: Callable[[], float]
    conversions: dict[int, StoredConversion]
    pixel_hits: list[dict[str, Any]]
    open_events: list[dict[str, Any]]
    pixel_answer: str
    repeat_collapse: bool
    _pixel_outage: tuple[int, int, int] | None
    _last_counted: dict[int, float]

    def _pixel(self, request: Request) -> Response:
        pixel_uuid = request.path.rsplit("/", 1)[-1]
        conversion = next((c for c in self.conversions.values()
                           if c.uuid == pixel_uuid and c.type_id == 1), None)
        if conversion is None:
            return Response(404, "unknown pixel")
        if self._pixel_outage and len(self.pixel_hits) >= self._pixel_outage[0]:
            after, status, times = self._pixel_outage
            self._pixel_outage = (after, status, times - 1) if times > 1 else None
            return Response(status, "pixel service unavailable")
        cv = request.arg("cv")
        if cv is not None:
            try:
                if float(cv) < 0:
                    raise ValueError(cv)
            except ValueError:
                return Response(400, "cv must be a non-negative number")
        counted = self._counts(conversion)
        if counted:
            conversion.total_conversions += 1
        self.pixel_hits.append({
            "uuid": pixel_uuid, "conversion_id": conversion.id, "cv": cv,
            "query": {k: v[0] for k, v in request.query.items()},
            "ignored": sorted(k for k in request.query if k != "cv"),
            "counted": counted, "attributed": False, "at": self.clock(),
            "authorization": request.header("authorization") is not None})
        return self._pixel_response()

    def _counts(self, conversion: StoredConversion) -> bool:
        """Whether this fire raises Total Conversions (see ``repeat_collapse``)."""
        repeat = (conversion.body.get("conversionSetting") or {}).get("repeatConversion") or {}
        now = self.clock()
        if self.repeat_collapse and repeat.get("count") == 1:
            period = float(repeat.get("frequency") or 1) * _UNIT_SECONDS.get(
                str(repeat.get("unit", "day")).lower(), 86400.0)
            last = self._last_counted.get(conversion.id)
            if last is not None and now - last < period:
                return False
        self._last_counted[conversion.id] = now
        return True

    def _pixel_response(self) -> Response:
        headers = {"Cache-Control": "no-store"}
        if self.pixel_answer == "gif":
            return Response(200, GIF, {**headers, "Content-Type": "image/gif"})
        if self.pixel_answer == "204":
            return Response(204, b"", headers)
        return Response(200, b"", {**headers,
                                   "Content-Type": "application/javascript; charset=utf-8"})

    def _open(self, request: Request) -> Response:
        pixel_id = request.arg("pixel_id")
        if not pixel_id:
            return Response(400, {"error": "PixelID is required"})
        try:
            body = request.json()
        except ValueError:
            return Response(400, {"error": "the body is not JSON"})
        if request.method == "POST" and not (isinstance(body, dict)
                                             and isinstance(body.get("data"), dict)):
            return Response(400, {"error": "expected {\"data\": {...}}"})
        self.open_events.append({"pid": request.arg("pid"), "pixel_id": pixel_id,
                                 "method": request.method, "body": body, "at": self.clock()})
        return Response(200, {"data": {"postEvent": True}})
