"""What happens to accepted events after ``events:ingest`` answers, and
``requestStatus:retrieve``'s view of it.

An accepted request is processed at once, in order, so that duplicates across requests
are decided in the order the requests arrived; the outcome stays hidden behind
``PROCESSING`` until the request has been polled ``polls`` times and ``seconds`` of the
emulator clock have passed. Per destination (``request_status_per_destination.proto``):
``SUCCESS`` when no event failed, ``FAILED`` when all did, ``PARTIAL_SUCCESS`` otherwise,
with ``errorInfo.errorCounts`` per ``ProcessingErrorReason`` (``processing_errors.proto``).
int64 counts are JSON strings, as the proto3 JSON mapping writes them.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from plugins.google.emulator_schema import parse_timestamp

PREFIX = "PROCESSING_ERROR_REASON_"
DAY = 86_400.0


@dataclass
class Record:
    """One event as delivered to one destination."""

    request_id: str
    destination: int
    account_id: str
    product_destination_id: str
    event: dict[str, Any]
    error: str | None = None


@dataclass
class Ingested:
    request_id: str
    destinations: list[dict[str, Any]]
    received_at: float
    validate_only: bool
    records: list[Record] = field(default_factory=list)
    polls: int = 0


@dataclass
class Processing:
    """The rules that turn an accepted event into a processing error."""

    max_age_days: float = 90.0
    default_consent: str | None = "CONSENT_GRANTED"
    poisoned: dict[str, str] = field(default_factory=dict)  # transaction id -> reason
    seen_transactions: set[tuple[str, str, str]] = field(default_factory=set)
    seen_clicks: set[tuple[str, str, str, float]] = field(default_factory=set)

    def outcome(self, record: Record, request_consent: dict[str, Any], now: float) -> str | None:
        """The processing error reason of one event, or None; remembers dedup keys."""
        event = record.event
        transaction = event.get("transactionId")
        if transaction in self.poisoned:
            return _reason(self.poisoned[transaction])
        consent = (event.get("consent") or {}).get("adUserData") or \
            request_consent.get("adUserData") or self.default_consent
        if consent == "CONSENT_DENIED":
            return PREFIX + "DENIED_CONSENT"
        if consent in (None, "CONSENT_STATUS_UNSPECIFIED"):
            return PREFIX + "UNKNOWN_CONSENT"
        stamp = parse_timestamp(event["eventTimestamp"]) or 0.0
        if now - stamp > self.max_age_days * DAY:
            return PREFIX + "EVENT_TOO_OLD"
        scope = (record.account_id, record.product_destination_id)
        if transaction:
            key = (*scope, transaction)
            if key in self.seen_transactions:
                return PREFIX + "DUPLICATE_TRANSACTION_ID"
            self.seen_transactions.add(key)
        gclid = (event.get("adIdentifiers") or {}).get("gclid")
        if gclid:
            click = (*scope, gclid, stamp)
            if click in self.seen_clicks:
                return PREFIX + "DUPLICATE_GCLID"
            self.seen_clicks.add(click)
        return None


def _reason(name: str) -> str:
    name = name.upper()
    if name.startswith(("PROCESSING_ERROR_", "PROCESSING_ERROR_REASON_")):
        return name
    return PREFIX + name


def status_of(ingested: Ingested, final: bool) -> dict[str, Any]:
    """The ``RetrieveRequestStatusResponse`` of one request."""
    statuses = []
    for index, destination in enumerate(ingested.destinations):
        records = [r for r in ingested.records if r.destination == index]
        entry: dict[str, Any] = {"destination": copy.deepcopy(destination),
                                 "eventsIngestionStatus": {"recordCount": str(len(records))}}
        if not final:
            entry["requestStatus"] = "PROCESSING"
        else:
            failed = Counter(r.error for r in records if r.error)
            if not failed:
                entry["requestStatus"] = "SUCCESS"
            else:
                whole = sum(failed.values()) == len(records)
                entry["requestStatus"] = "FAILED" if whole else "PARTIAL_SUCCESS"
                entry["errorInfo"] = {"errorCounts": [
                    {"recordCount": str(count), "reason": reason}
                    for reason, count in sorted(failed.items())]}
        statuses.append(entry)
    return {"requestStatusPerDestination": statuses}
