"""Writing each request's outcome to the ledger, from the thread that delivered it.

A request's answer is committed by the delivering thread the moment it arrives
(:class:`connector.delivery.Deliverer` calls :meth:`LedgerWriter.record`), not
when the reading thread next gets round to it: a crash then loses only the answers
being written, and the writes overlap with DuckDB producing the next events. Each
thread borrows its own DuckDB cursor (DuckDB connections are not shared between
threads); appends from several cursors at once do not conflict.

Signals reach only the main thread, so these writes cannot be cut short by Ctrl-C;
the pipeline waits for them (draining the deliverer) before it finishes the run.

The shaping query streams in the same DuckDB engine and may hold all of its memory
limit until it spills; a write that finds no memory waits and tries again (up to
:data:`MEMORY_ATTEMPTS` tries) rather than lose the outcome of a request that was sent.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from connector.delivery import Result
from connector.state import State
from connector.warehouse import OutOfMemory

#: Tries of a ledger write while DuckDB has no memory to give it: waits of 0.05 s
#: doubling to 2 s, about a minute in all.
MEMORY_ATTEMPTS = 40


class LedgerWriter:
    """A pool of ``size`` state cursors, one per delivering thread.

    :param cursor: makes a new DuckDB cursor on the engine that has the state attached.
    :param sleep: how to wait before writing again when DuckDB is out of memory.
    """

    def __init__(self, cursor: Any, run_id: int, size: int,
                 sleep: Callable[[float], None] = time.sleep):
        self.run_id = run_id
        self.sleep = sleep
        self._states = [State(cursor(), create=False) for _ in range(max(1, size))]
        self._free: queue.SimpleQueue[State] = queue.SimpleQueue()
        for state in self._states:
            self._free.put(state)

    def record(self, result: Result) -> None:
        """Commit what became of each event of ``result.batch``: delivered, rejected
        (with the reason, also in ``rejects``) or failed (with why)."""
        state = self._free.get()
        try:
            _write(state, self.run_id, result, self._patient)
        finally:
            self._free.put(state)

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
        for state in self._states:
            state.con.close()


def _write(state: State, run_id: int, result: Result,
           patient: Callable[[Callable[[], None]], None]) -> None:
    batch, fps, route = result.batch, result.fingerprints, result.batch.route
    if result.delivered:
        patient(lambda: state.record(run_id, "delivered", [batch.keys[i] for i in result.delivered],
                                     [fps[i] for i in result.delivered], route))
    if result.rejected:
        idx = sorted(result.rejected)
        patient(lambda: state.record(run_id, "rejected", [batch.keys[i] for i in idx],
                                     [fps[i] for i in idx], route,
                                     [result.rejected[i] for i in idx]))
    if result.failed:
        patient(lambda: state.record(run_id, "failed", [batch.keys[i] for i in result.failed],
                                     [fps[i] for i in result.failed], route,
                                     [result.failure] * len(result.failed)))
