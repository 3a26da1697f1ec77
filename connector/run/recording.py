"""Writing each request's outcome to the ledger, from the threads that deliver.

A request's answer is committed by a delivering thread as soon as it arrives
(:class:`connector.run.delivery.Deliverer` calls :meth:`LedgerWriter.record`), not when
the reading thread next gets round to it: a crash then loses only the answers being
written, and the writes overlap with DuckDB producing the next events.

The writes are group commits. One delivering thread at a time writes; answers that
arrive meanwhile wait, and the next write commits all of them at once, as one insert of
an Arrow table (every status together): most of an insert's cost is the fixed cost of a
statement (docs/benchmarks.md). Each thread's
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
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import pyarrow as pa
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from connector.engines.warehouse import OutOfMemory
from connector.run.delivery import Result
from connector.state import State
from connector.state.outcomes import OUTCOMES

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
    """The outcomes of ``results`` in one insert (one transaction): every result's
    events, as Arrow arrays taken from its batch (rejected ones with their reasons,
    failed ones with why)."""
    tables = [table for table in map(outcomes, results) if table.num_rows]
    if tables:
        patient(partial(state.record_outcomes, run_id, pa.concat_tables(tables)))


def outcomes(result: Result) -> pa.Table:
    """What became of each event of ``result`` (:data:`OUTCOMES`, one row per event):
    the whole batch's arrays when it was all delivered, else the events of each status
    taken from them."""
    batch = result.batch
    keys, fps = _strings(batch.key_array()), _strings(result.fingerprints)
    if len(result.delivered) == len(batch):  # the common case: no per-event work
        return _outcome_table(keys, fps, "delivered", None, batch.route)
    rejected = sorted(result.rejected)
    parts = [(result.delivered, "delivered", None),
             (rejected, "rejected", pa.array([result.rejected[i] for i in rejected],
                                             pa.string())),
             (result.failed, "failed", pa.repeat(pa.scalar(result.failure, pa.string()),
                                                 len(result.failed)))]
    return pa.concat_tables([
        _outcome_table(keys.take(pa.array(indices, pa.int64())),
                       fps.take(pa.array(indices, pa.int64())), status, why, batch.route)
        for indices, status, why in parts])


def _outcome_table(keys: pa.Array, fps: pa.Array, status: str, reasons: pa.Array | None,
                   route: str | None) -> pa.Table:
    n = len(keys)
    return pa.Table.from_arrays(
        [keys, fps, pa.repeat(pa.scalar(status, pa.string()), n),
         reasons if reasons is not None else pa.nulls(n, pa.string()),
         pa.repeat(pa.scalar(route, pa.string()), n)], schema=OUTCOMES)


def _strings(values: Sequence[str] | pa.Array) -> pa.Array:
    """``values`` as an Arrow string array."""
    if isinstance(values, pa.Array):
        return values if values.type == pa.string() else values.cast(pa.string())
    return pa.array(values, pa.string())
