"""The ``iqm`` destination: assign a conversion to campaigns, or fire its pixel per order.

``open()`` reads the credentials. Before the first delivery, :meth:`prepare` logs
in and finds or creates the conversion (never twice: it looks the name up
first), and in events mode reads the pixel URL; a run with nothing to send makes
no request. ``deliver()`` then sends one assign request per batch in assign mode,
one listing and one assign request for the mirror event, and one pixel fire per
event in events mode (see :meth:`_fire`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import pydantic
import requests

from connector.kit import (
    Batch,
    BatchRejected,
    Column,
    ConfigError,
    Contract,
    Destination,
    Fatal,
    Limits,
    Outcome,
    Retryable,
    RunContext,
)
from connector.kit.http import retry_after, send
from connector.kit.secrets import redact
from plugins.iqm import conversions, shaping
from plugins.iqm.client import Credentials, IqmClient
from plugins.iqm.conversions import Conversion
from plugins.iqm.emulator import IqmEmulator
from plugins.iqm.errors import Refused
from plugins.iqm.ratelimit import RequestWindow
from plugins.iqm.settings import UNATTRIBUTED, IqmSettings

log = logging.getLogger("offramp.iqm")

class IqmDestination(Destination):
    """IQM conversions: campaign assignment (``mode = "assign"``) or pixel fires
    (``mode = "events"``)."""

    name = "iqm"
    summary = "IQM: assign a conversion to campaigns, or fire its pixel once per order"
    contract = Contract(
        one_of=((Column("campaign_id", "any", "assign mode: an IQM campaign id"),
                 Column("order_id", "any", "events mode: the order, one pixel fire each")),),
        optional=(
            Column("timestamp", "timestamp", "events mode: when the order was placed"),
            Column("value", "number", "events mode: the order's (or line's) value"),
            Column("price", "number", "events mode: unit price, when there is no value"),
            Column("quantity", "number", "events mode: units, with price"),
            Column("currency", "text", "events mode: ISO 4217 code, must match `currency`"),
        ),
    )
    Settings = IqmSettings
    # IQM: "20 requests per minute"; "Max data per page is 1K rows" (rest-api-reference.mdx).
    limits = Limits(max_events=1000, max_bytes=1_000_000, concurrency=1,
                    rate_per_second=20 / 60, timeout=30.0)
    emulator: ClassVar[type[IqmEmulator]] = IqmEmulator

    settings: IqmSettings

    def __init__(self, settings: IqmSettings, context: RunContext):
        super().__init__(settings, context)
        #: Injectable for tests: token expiry and the request window use these.
        self.clock: Callable[[], float] = time.time
        self.sleep: Callable[[float], None] = time.sleep
        self.client: IqmClient | None = None
        self.conversion: Conversion | None = None
        self.pixel: str | None = None
        self._prepare_lock = threading.Lock()
        # events fired in a batch that has not returned yet: key -> payload
        self._fired: dict[str, str] = {}
        self._fired_lock = threading.Lock()
        # A pixel fire cannot be updated: an order already fired is never fired again,
        # even when its value changes (IQM would count it twice).
        self.resend_changed = settings.mode != "events"

    @classmethod
    def warnings(cls, settings: pydantic.BaseModel) -> list[str]:
        """Events mode: say plainly that the pixel fires it sends are not attributed."""
        if getattr(settings, "mode", None) != "events":
            return []
        return [f"iqm events mode sends pixel fires, not attributed conversions: "
                f"{UNATTRIBUTED}. Count them as 'pixel fires sent'."]

    # -- shaping -------------------------------------------------------------------------
    def shape_sql(self, source: str, columns: dict[str, str]) -> str:
        return shaping.shape_sql(source, columns, self.settings, self.context.now)

    # -- setup ---------------------------------------------------------------------------
    def open(self, http: requests.Session) -> None:
        """Read the credentials and build the client. No request yet: the core opens
        the destination on every run, and a run with nothing to send must not call
        IQM (see :meth:`prepare`)."""
        super().open(http)
        s = self.settings
        credentials = Credentials(self.secret(s.client_id_env), self.secret(s.client_secret_env),
                                  self.secret(s.username_env), self.secret(s.password_env))
        window = RequestWindow(s.requests_per_minute, clock=self.clock, sleep=self.sleep)
        self.client = IqmClient(http, s, credentials, timeout=self.limits.timeout,
                                clock=self.clock, window=window)

    def prepare(self) -> Conversion:
        """Log in and make sure the conversion exists (found by name, else created),
        once per run, before the first delivery; events mode also reads the pixel URL.

        Raises Retryable (the core retries the batch, and this runs again: finding
        the conversion first makes a second attempt safe), or Fatal.
        """
        with self._prepare_lock:
            if self.conversion is not None:
                return self.conversion
            client, s = self._client, self.settings
            try:
                if client.token is None:
                    client.login()
                conversion = conversions.ensure(client, s)
                if s.mode == "events":
                    self.pixel = conversions.pixel_template(client, s, conversion)
            except Refused as exc:
                raise Fatal(f"{exc}: check the conversion settings of the job") from None
            except ConfigError as exc:
                raise Fatal(str(exc)) from None
            self.conversion = conversion
            return conversion

    @property
    def _client(self) -> IqmClient:
        if self.client is None:
            raise Fatal("the iqm destination was not opened: call open() before deliver()")
        return self.client

    # -- delivery ------------------------------------------------------------------------
    def deliver(self, batch: Batch) -> Outcome:
        conversion = self.prepare()
        if self.settings.mode == "events":
            return self._fire(batch, conversion)
        if batch.route == shaping.MIRROR_ROUTE:
            return self._mirror(batch, conversion)
        return self._assign(batch, conversion)

    def _assign(self, batch: Batch, conversion: Conversion) -> Outcome:
        """One assign call adding the batch's campaigns; refused ones become rejections."""
        ids = [int(json.loads(p)["campaign_id"]) for p in batch.payloads]
        try:
            result = conversions.assign(self._client, conversion.id, sorted(set(ids)), [])
        except Refused as exc:
            if len(ids) == 1:
                return Outcome({0: f"IQM refused campaign {ids[0]}: {exc.detail}"})
            raise BatchRejected(str(exc)) from None
        rejected: dict[int, str] = {}
        for index, cid in enumerate(ids):
            if cid in result.invalid_add:
                rejected[index] = (
                    f"campaign {cid} is not a draft campaign of this workspace: IQM assigns "
                    "conversions only before a campaign runs (it may be running, ended or "
                    "unknown)")
            elif cid not in result.valid_add:
                rejected[index] = f"IQM did not confirm the assignment to campaign {cid}"
        return Outcome(rejected, {"conversion_id": conversion.id,
                                  "assigned": len(result.valid_add)})

    def _mirror(self, batch: Batch, conversion: Conversion) -> Outcome:
        """Remove the conversion from the campaigns IQM lists as attached to it that
        the query no longer names: one listing call, then one assign call."""
        wanted: set[int] = set()
        for payload in batch.payloads:
            wanted.update(int(c) for c in json.loads(payload)["campaign_ids"])
        attached = conversions.attached_campaigns(self._client, conversion.id)
        remove = sorted(attached - wanted)
        info: dict[str, Any] = {"conversion_id": conversion.id, "attached": len(attached),
                                "removed": 0}
        if not remove:
            return Outcome(info=info)
        try:
            result = conversions.assign(self._client, conversion.id, [], remove)
        except Refused as exc:
            return Outcome({i: f"IQM refused the removal: {exc.detail}"
                            for i in range(len(batch))}, info)
        kept = sorted(set(remove) - result.valid_remove)
        info.update(removed=len(result.valid_remove), not_removed=kept)
        log.info("removed conversion %s from %d campaigns", conversion.id,
                 len(result.valid_remove))
        if not kept:
            return Outcome(info=info)
        listed = ", ".join(str(c) for c in kept)
        reason = (f"IQM did not remove conversion {conversion.id} from campaigns {listed}: "
                  "conversions can be removed only before a campaign runs")
        return Outcome({i: reason for i in range(len(batch))}, info)

    def _fire(self, batch: Batch, conversion: Conversion) -> Outcome:
        """Fire the pixel once per event, one after the other.

        A 429, a 5xx or a timeout stops the batch with :class:`Retryable`; the
        events already fired are remembered, so the core's retry of the same batch
        skips them instead of firing them twice.
        """
        template = self.pixel
        assert template is not None, "prepare() reads the pixel URL in events mode"
        http = self.http
        assert http is not None
        rejected: dict[int, str] = {}
        fired = skipped = 0
        for index, (key, payload) in enumerate(zip(batch.keys, batch.payloads, strict=True)):
            with self._fired_lock:
                if self._fired.get(key) == payload:
                    skipped += 1
                    continue
            cv = str(json.loads(payload)["cv"])
            response = send(http, "GET", conversions.pixel_url(template, cv),
                            timeout=self.limits.timeout)
            status = response.status_code
            if 200 <= status < 300:
                with self._fired_lock:
                    self._fired[key] = payload
                fired += 1
            elif status == 429:
                raise Retryable(f"the IQM pixel host is rate limiting (429) after {fired} fires",
                                retry_after=retry_after(response), throttled=True)
            elif status == 408 or status >= 500:
                raise Retryable(f"the IQM pixel host answered {status} after {fired} fires")
            elif status == 404:
                raise Fatal(f"the IQM pixel of conversion {conversion.id} does not exist (404): "
                            "was the conversion deleted? Remove conversion_id or fix it")
            else:
                text = redact(response.text[:200].strip()) or f"HTTP {status}"
                rejected[index] = f"the IQM pixel refused order {key} (HTTP {status}): {text}"
        with self._fired_lock:
            for key in batch.keys:
                self._fired.pop(key, None)
        return Outcome(rejected, {"conversion_id": conversion.id, "pixels_fired": fired,
                                  "already_fired": skipped})
