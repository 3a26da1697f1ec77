"""Writing each request's outcome to the ledger, from the threads that deliver.

A request's answer is committed by a delivering thread as soon as it arrives
(:class:`connector.run.delivery.Deliverer` calls :meth:`LedgerWriter.record`), not when
the reading thread next gets round to it: a crash then loses only the answers being
written, and the writes overlap with DuckDB producing the next events.

The writes are group commits. One delivering thread at a time writes; answers that
arrive meanwhile wait, and the next write commits all of them at once: most of an
insert's cost is the fixed cost of a statement (docs/benchmarks.md). Each thread's
:meth:`~LedgerWriter.record` returns only once its own outcomes are committed, so
nothing waits longer than it did for DuckDB's own lock.
What changes is a write that fails (a full disk): it loses the outcomes of every
request in its group, whose events the next run sends again.

Signals reach only the main thread, so these writes cannot be cut short by Ctrl-C;
the pipeline waits for them (draining the deliverer) before it finishes the run.

The shaping query streams in the same DuckDB engine and may hold all of its memory
limit until it spills; a write that finds no memory waits and tries again (up to
:data:`MEMORY_ATTEMPTS` tries) rather than lose the outcome of a request that was sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from connector.engines.warehouse import OutOfMemory
from connector.run.delivery import Result
from connector.state import State

#: Tries of a ledger write while DuckDB has no memory to give it: waits of 0.05 s
#: doubling to 2 s, about a minute in all.
MEMORY_ATTEMPTS = 40


class _Waiting:
    """One thread's result, waiting to be committed by a group write."""

    def __init__(self, result: Result):
        self.result = result
        self.done = threading.Event()  # committed (or failed), or this thread now leads
        self.leads = False
        self.error: BaseException | None = None


class LedgerWriter:
    """Group commits of the delivering threads' outcomes, on one state cursor of its
    own: only the thread leading a write uses it, one at a time.

    :param cursor: makes a new DuckDB cursor on the engine that has the state attached.
    :param sleep: how to wait before writing again when DuckDB is out of memory.
    """

    def __init__(self, cursor: Any, run_id: int,
                 sleep: Callable[[float], None] = time.sleep):
        self.run_id = run_id
        self.sleep = sleep
        self.state = State(cursor(), create=False)
        self._lock = threading.Lock()
        self._waiting: list[_Waiting] = []
        self._writing = False  # a thread is leading a group write

    def record(self, result: Result) -> None:
        """Commit what became of each event of ``result.batch``: delivered, rejected
        (with the reason, also in ``rejects``) or failed (with why). Returns once they
        are in the ledger, together with whatever else was waiting; raises what the
        write raised."""
        mine = _Waiting(result)
        with self._lock:
            self._waiting.append(mine)
            mine.leads = not self._writing
            self._writing = True
        if not mine.leads:
            mine.done.wait()  # until a leader committed it, or handed this thread the lead
        if mine.leads:
            self._lead()
        if mine.error is not None:
            raise mine.error

    def _lead(self) -> None:
        """Write every result waiting (this thread's among them) in one group, then hand
        the lead to the first result that arrived meanwhile, if any."""
        with self._lock:
            group, self._waiting = self._waiting, []
        error = None
        try:
            _write(self.state, self.run_id, [w.result for w in group], self._patient)
        except BaseException as exc:  # every thread of the group raises it
            error = exc
        with self._lock:
            if self._waiting:
                self._waiting[0].leads = True
                self._waiting[0].done.set()
            else:
                self._writing = False
        for waiting in group:
            waiting.error = error
            waiting.leads = False
            waiting.done.set()

    def _patient(self, write: Callable[[], None]) -> None:
        """Run ``write`` (one transaction), again after a wait while DuckDB is out of
        memory: a failed write changed nothing, and the query holding the memory spills."""
        for attempt in Retrying(retry=retry_if_exception_type(OutOfMemory),
                                wait=wait_exponential(multiplier=0.05, max=2.0),
                                stop=stop_after_attempt(MEMORY_ATTEMPTS), sleep=self.sleep,
                                reraise=True):
            with attempt:
                write()

    def close(self) -> None:
        self.state.close()


def _write(state: State, run_id: int, results: list[Result],
           patient: Callable[[Callable[[], None]], None]) -> None:
    """The outcomes of ``results``: one insert per status, each with every result's rows
    of that status (rejected ones with their reasons, failed ones with why)."""
    rows: dict[str, tuple[list[str], list[str], list[str | None], list[str | None]]] = {
        status: ([], [], [], []) for status in ("delivered", "rejected", "failed")}
    for result in results:
        batch, fps = result.batch, result.fingerprints
        rejected = sorted(result.rejected)
        for status, indices, reasons in (
                ("delivered", result.delivered, [None] * len(result.delivered)),
                ("rejected", rejected, [result.rejected[i] for i in rejected]),
                ("failed", result.failed, [result.failure] * len(result.failed))):
            keys, fingerprints, routes, why = rows[status]
            keys += [batch.keys[i] for i in indices]
            fingerprints += [fps[i] for i in indices]
            routes += [batch.route] * len(indices)
            why += reasons
    for status, (keys, fingerprints, routes, why) in rows.items():
        if keys:
            patient(partial(state.record, run_id, status, keys, fingerprints, routes, why))
