"""What a run did: its counts and its summary, as the CLI, the Python API and a
destination's :meth:`~connector.kit.Destination.after_run` see them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

#: How a run ended.
STATUSES = ("succeeded", "failed", "interrupted", "dry_run", "killed")


@dataclass
class RunCounts:
    """The counts of one run.

    Events and line items are counted apart: ``events`` is unchanged + delivered +
    rejected + failed + pending, and ``line_items`` are query rows refused on their own
    (a returned line left out of its order's event, a row without an order id), which
    are in none of the event counts.

    :param rows_read: the query's rows the run read.
    :param events: events made from them (unchanged ones included).
    :param unchanged: events already delivered with this very payload: not sent again.
    :param delivered: events the destination accepted.
    :param rejected: events refused, before sending or by the destination, each with a
        reason (by reason in ``reasons``).
    :param failed: events whose request kept failing, or that the destination did not
        confirm: sent again first next run.
    :param pending: events read but not sent (the run stopped first; in a dry run, those
        it would have sent): sent next run.

    However a run ends, ``events == unchanged + delivered + rejected + failed + pending``:
    :meth:`balance` makes it so before the counts are recorded.
    :param requests: requests sent (built, in a dry run).
    :param bytes: request bytes built in a dry run.
    :param line_items: line items refused on their own, not events (by reason in
        ``line_item_reasons``).
    """

    rows_read: int = 0
    events: int = 0
    unchanged: int = 0
    delivered: int = 0
    rejected: int = 0
    failed: int = 0
    pending: int = 0
    requests: int = 0
    bytes: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    line_items: int = 0
    line_item_reasons: dict[str, int] = field(default_factory=dict)

    def balance(self) -> None:
        """Count every event read that is not unchanged, delivered, rejected or failed as
        pending: the events a run read but stopped before sending (left in the request
        being cut, in the rest of the batch DuckDB handed over, or queued when the run
        stopped), whichever way it stopped. An engine that lost count of what it read
        (a Spark job that failed: its tasks' tallies never came back, while the ledger
        has what they settled) counts at least the events it settled."""
        settled = self.unchanged + self.delivered + self.rejected + self.failed
        self.events = max(self.events, settled)
        self.pending = self.events - settled

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def by_unit(self, reasons: Mapping[str, int], line_item_reasons: Iterable[str]) -> RunCounts:
        """These counts, whose ``events`` and ``rejected`` count every shaped row, with
        the rejects of ``line_item_reasons`` (a destination's
        :attr:`~connector.kit.Destination.line_item_reasons`) moved out of them into
        ``line_items``; ``reasons`` are the rejects of every row, by reason."""
        lines = {r: n for r, n in reasons.items() if r in set(line_item_reasons) and n}
        n = sum(lines.values())
        return replace(self, events=self.events - n, rejected=self.rejected - n,
                       line_items=n, line_item_reasons=lines,
                       reasons={r: k for r, k in reasons.items() if r not in lines})


@dataclass
class RunSummary:
    """One run: its id, how it ended (one of :data:`STATUSES`), its counts, the error
    that stopped it, the time per stage, and notes for the user."""

    run_id: int
    job: str
    destination: str
    status: str
    counts: RunCounts
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the run did what it set out to do (a dry run included)."""
        return self.status in ("succeeded", "dry_run")
