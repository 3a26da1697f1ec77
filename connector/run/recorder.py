"""One run's record, the same on both engines: its row in the ``runs`` table, its
counts, reasons, time per stage and notes, how it ended, and the destination's
follow-up work after it.

The DuckDB pipeline (:mod:`connector.run.pipeline`) and the Spark driver
(:mod:`connector.engines.spark.run`) each count what they do into a
:class:`RunRecorder` and end with :meth:`RunRecorder.finish`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from connector.kit.destination import Destination
from connector.kit.runs import RunCounts, RunSummary
from connector.kit.secrets import redact
from connector.kit.tables import PluginTables
from connector.state import State

if TYPE_CHECKING:
    import requests

#: The error of a run whose destination kept failing.
KEPT_FAILING = ("the destination kept failing ({}); the run stopped and the rest stays "
                "pending for the next run")
#: The error of a run whose destination took requests but confirmed them only in part.
UNCONFIRMED = ("the destination took {n} request(s) but did not confirm every event (last: "
               "{reason}); their events are recorded failed, were not sent again in this run, "
               "and the next run sends them again with the same event ids")


class RunRecorder:
    """Starts a run in ``state`` (closing runs a killed process left ``running``) and
    keeps its counts until :meth:`finish` records how it ended."""

    def __init__(self, state: State, job: str, destination: str, *, dry_run: bool,
                 now: dt.datetime):
        self.state, self.job, self.destination, self.dry_run = state, job, destination, dry_run
        state.close_abandoned_runs()
        self.run_id = state.start_run(job, destination, dry_run, now)
        self.counts = RunCounts()  # every shaped row: line items are split off when shown
        self.reasons: Counter[str] = Counter()
        #: The destination's :attr:`~connector.kit.Destination.line_item_reasons`, once
        #: its class is known.
        self.line_item_reasons: tuple[str, ...] = ()
        self.timings: defaultdict[str, float] = defaultdict(float)
        self.notes: list[str] = []
        self.finished = False

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the block's wall time to ``timings[stage]``."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] += time.perf_counter() - t

    def rejected(self, reasons: dict[str, int]) -> None:
        """Count events rejected, by reason."""
        self.counts.rejected += sum(reasons.values())
        self.reasons.update(reasons)

    def shown(self) -> RunCounts:
        """The counts so far as the user sees them: events and line items apart
        (:meth:`RunCounts.by_unit <connector.kit.runs.RunCounts.by_unit>`)."""
        return self.counts.by_unit(dict(self.reasons.most_common()), self.line_item_reasons)

    def finish(self, status: str, error: str | None = None) -> RunSummary:
        """Record how the run ended (once: a second call only returns the summary)."""
        self.counts.balance()
        counts = self.shown()
        if not self.finished:
            self.state.finish_run(self.run_id, status, counts, error)
            self.finished = True
        return RunSummary(self.run_id, self.job, self.destination, status, counts,
                          redact(error) if error else None, dict(self.timings),
                          list(self.notes))

    def end(self, fatal: str | None, failure: str | None,
            unconfirmed: list[str] | None = None) -> RunSummary:
        """Finish a run that went to its end: failed when delivery stopped it (``fatal``),
        the destination kept failing (``failure``) or confirmed requests only in part
        (``unconfirmed``: the reason of each), else succeeded or a dry run."""
        if fatal:
            return self.finish("failed", fatal)
        if failure:
            return self.finish("failed", KEPT_FAILING.format(failure))
        if unconfirmed:
            return self.finish("failed", UNCONFIRMED.format(n=len(unconfirmed),
                                                            reason=unconfirmed[-1]))
        return self.finish("dry_run" if self.dry_run else "succeeded")

    def follow_up(self, dest: Destination, summary: RunSummary, *,
                  open_with: Callable[[], requests.Session] | None = None) -> None:
        """The destination's :meth:`~connector.kit.Destination.after_run`, after a run that
        delivered events (one that stopped early included): its lines become notes; its
        failure is a note too, and never changes the run's outcome. ``open_with``: the
        destination is not open (the Spark driver's), so open it with a session it makes,
        and close it after; unless it has no follow-up work (the driver of a cluster may
        not hold the secrets its executors deliver with)."""
        if self.dry_run or not summary.counts.delivered:
            return
        if open_with is not None and type(dest).after_run is Destination.after_run:
            return
        tables = PluginTables(dest.name, dest.tables, self.state)
        try:
            if open_with is not None:
                dest.open(open_with())
            try:
                summary.notes += list(dest.after_run(summary, tables))
            finally:
                if open_with is not None:
                    dest.close()
        except Exception as exc:
            summary.notes.append(redact(f"after the run, {dest.name} failed: "
                                        f"{type(exc).__name__}: {exc}"))
