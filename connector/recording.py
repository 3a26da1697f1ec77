"""Writing each request's outcome to the ledger, from the thread that delivered it.

A request's answer is committed by the delivering thread the moment it arrives
(:class:`connector.delivery.Deliverer` calls :meth:`LedgerWriter.record`), not
when the reading thread next gets round to it: a crash then loses only the answers
being written, and the writes overlap with DuckDB producing the next events. Each
thread borrows its own DuckDB cursor (DuckDB connections are not shared between
threads); appends from several cursors at once do not conflict.

Signals reach only the main thread, so these writes cannot be cut short by Ctrl-C;
the pipeline waits for them (draining the deliverer) before it finishes the run.
"""

from __future__ import annotations

import queue
from typing import Any

from connector.delivery import Result
from connector.state import State


class LedgerWriter:
    """A pool of ``size`` state cursors, one per delivering thread.

    :param cursor: makes a new DuckDB cursor on the engine that has the state attached.
    """

    def __init__(self, cursor: Any, run_id: int, size: int):
        self.run_id = run_id
        self._states = [State(cursor(), create=False) for _ in range(max(1, size))]
        self._free: queue.SimpleQueue[State] = queue.SimpleQueue()
        for state in self._states:
            self._free.put(state)

    def record(self, result: Result) -> None:
        """Commit what became of each event of ``result.batch``: delivered, rejected
        (with the reason, also in ``rejects``) or failed (with why)."""
        state = self._free.get()
        try:
            _write(state, self.run_id, result)
        finally:
            self._free.put(state)

    def close(self) -> None:
        for state in self._states:
            state.con.close()


def _write(state: State, run_id: int, result: Result) -> None:
    batch, fps, route = result.batch, result.fingerprints, result.batch.route
    if result.delivered:
        state.record(run_id, "delivered", [batch.keys[i] for i in result.delivered],
                     [fps[i] for i in result.delivered], route)
    if result.rejected:
        idx = sorted(result.rejected)
        state.record(run_id, "rejected", [batch.keys[i] for i in idx], [fps[i] for i in idx],
                     route, [result.rejected[i] for i in idx])
    if result.failed:
        state.record(run_id, "failed", [batch.keys[i] for i in result.failed],
                     [fps[i] for i in result.failed], route,
                     [result.failure] * len(result.failed))
