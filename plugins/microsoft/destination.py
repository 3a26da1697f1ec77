"""The Microsoft Advertising destination: offline conversions through
ApplyOfflineConversions (Campaign Management v13 REST)."""

from __future__ import annotations

from typing import ClassVar

import requests

from connector.kit import (
    Batch,
    Column,
    Contract,
    Destination,
    Limits,
    Outcome,
    PluginTables,
    Retryable,
    RunSummary,
    shaped_schema,
)
from connector.kit.events import SOURCE_ROWS
from plugins.microsoft import shaping
from plugins.microsoft.client import APPLY_PATH, MicrosoftClient
from plugins.microsoft.emulator import MicrosoftAdsEmulator
from plugins.microsoft.faults import APPLY_FAILED, api_error
from plugins.microsoft.report_store import REPORT_TABLES, store_report
from plugins.microsoft.settings import MicrosoftSettings

CONTRACT = Contract(
    required=(Column("timestamp", "timestamp", "When the conversion happened (UTC)."),),
    one_of=((
        Column("microsoft_click_id", "text", "The MSCLKID captured from the ad click."),
        Column("email", "text", "Customer email (normalized and SHA-256 hashed in DuckDB)."),
        Column("phone", "text", "Customer phone (E.164, then SHA-256 hashed in DuckDB)."),
    ),),
    optional=(
        Column("order_id", "any", "Rows of one order become one conversion."),
        Column("price", "number", "Unit price; value = sum(price x quantity) per order."),
        Column("quantity", "number", "Units (1 when absent)."),
        Column("value", "number", "Conversion value; wins over price x quantity."),
        Column("currency", "text", "ISO 4217 code of the value."),
        Column("conversion_name", "text", "Offline conversion goal name (else the setting)."),
        Column("country", "text", "Country of the phone number (else default_country)."),
        Column("external_attribution_credit", "number", "Credit for external attribution."),
        Column("external_attribution_model", "text", "Name of the external attribution model."),
    ),
)


class MicrosoftAdsDestination(Destination):
    """Uploads offline conversions (click ids and/or hashed emails and phones)."""

    name: ClassVar[str] = "microsoft"
    summary: ClassVar[str] = "Microsoft Advertising offline conversions (ApplyOfflineConversions)"
    contract: ClassVar[Contract] = CONTRACT
    Settings: ClassVar[type[MicrosoftSettings]] = MicrosoftSettings
    # 1,000 conversions per request (applyofflineconversions.md). Throttling is per
    # customer per minute and unpublished: stay at a few requests in flight.
    limits: Limits = Limits(max_events=1000, max_bytes=4_000_000, concurrency=4,
                            max_attempts=6, give_up_after=600.0, timeout=60.0)
    emulator: ClassVar[type[MicrosoftAdsEmulator]] = MicrosoftAdsEmulator
    events_schema = shaped_schema(SOURCE_ROWS)
    tables = REPORT_TABLES

    settings: MicrosoftSettings
    client: MicrosoftClient | None = None

    def shape_sql(self, source: str, columns: dict[str, str]) -> str:
        return shaping.shape_sql(self.settings, self.context.now, source, columns)

    def open(self, http: requests.Session) -> None:
        super().open(http)
        self.client = MicrosoftClient(self.settings, http, read_secret=self.secret,
                                      timeout=self.limits.timeout)
        self.client.prepare()

    def after_run(self, summary: RunSummary, tables: PluginTables) -> list[str]:
        """With ``report_after_run``, fetch today's report for ``goal_ids`` and keep it."""
        if not (self.settings.report_after_run and self.settings.goal_ids):
            return []
        from plugins.microsoft.cli import report_for

        today = self.context.now.date()
        report = report_for(self.settings, self.settings.goal_ids, today, today, session=self.http)
        rows = store_report(report, self.context.job, self.settings, tables)
        lines = [f"Microsoft report for {today}: {rows} goal-day rows kept in the state file"]
        for goal in report.goals.values():
            success = sum(d.success for d in goal.days.values())
            unattributed = sum(d.unattributed for d in goal.days.values())
            lines.append(f"  goal {goal.goal_id}: {success} attributed, {unattributed} not")
        return lines

    def encode(self, batch: Batch) -> bytes:
        """``{"OfflineConversions": [...]}``, built without parsing the payloads."""
        return b"".join((b'{"OfflineConversions":', batch.array_bytes(), b"}"))

    def deliver(self, batch: Batch) -> Outcome:
        assert self.client is not None, "open() was not called"
        answer = self.client.post(APPLY_PATH, self.encode(batch))
        errors = [api_error(e) for e in (answer.get("PartialErrors") or [])]
        transient = [e for e in errors if e.code == APPLY_FAILED]
        if transient:
            # Microsoft ignores a resent duplicate (same click id + goal + time), so
            # sending the whole request again is safe.
            raise Retryable(f"Microsoft could not apply {len(transient)} of {len(batch)} "
                            f"conversions ({transient[0].describe()}); sending again")
        rejected: dict[int, str] = {}
        unplaced: list[str] = []
        for error in errors:
            if error.index is not None and 0 <= error.index < len(batch):
                rejected.setdefault(error.index, error.describe())
            else:
                unplaced.append(error.describe())
        info: dict[str, object] = {"sent": len(batch), "rejected": len(rejected)}
        if unplaced:
            info["errors_without_index"] = unplaced
        if self.client.refreshes:
            info["token_refreshes"] = self.client.refreshes
        return Outcome(rejected=rejected, info=info)
