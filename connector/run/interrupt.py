"""Stopping a run on SIGINT (Ctrl-C) or SIGTERM without losing what was confirmed.

Python's default handler raises :class:`KeyboardInterrupt` wherever the main
thread happens to be. Two places need better than that:

* inside a DuckDB query: DuckDB's Python API notices the signal only when the
  query ends, so a shaping query of several minutes would ignore Ctrl-C for
  minutes (and then fail with a ``RuntimeError``). :class:`StopOnSigint` calls
  the connection's ``interrupt()`` so that the query stops at once;
* inside a ledger write: an interrupted ``INSERT`` is rolled back, so the outcome
  of a request the destination accepted would be forgotten and its events sent
  again by the next run. Writes run in :meth:`StopOnSigint.protected`, and a
  SIGINT that arrives during one takes effect when it has committed.

Only the first SIGINT interrupts; later ones are ignored while the run winds down
(the requests in flight finish, within the destination's request timeout).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class StopOnSigint:
    """While active (``with StopOnSigint(con.interrupt) as stop:``), SIGINT sets
    :attr:`requested`, interrupts the running query and raises
    :class:`KeyboardInterrupt`, except inside :meth:`protected` blocks.

    Does nothing outside the main thread, where Python cannot receive signals.
    """

    def __init__(self, interrupt_query: Callable[[], None]):
        self.interrupt_query = interrupt_query
        self.requested = threading.Event()
        self._depth = 0
        self._deferred = False
        self._previous: Any = None
        self._active = False
        #: The signal that stopped the run (``"SIGINT"`` or ``"SIGTERM"``).
        self.signal = "SIGINT"

    def __enter__(self) -> StopOnSigint:
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (a scheduler or `docker stop`) stops as gracefully as Ctrl-C.
            self._previous = {sig: signal.signal(sig, self._handle)
                              for sig in (signal.SIGINT, signal.SIGTERM)}
            self._active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._active:
            for sig, previous in self._previous.items():
                signal.signal(sig, previous)
            self._active = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested.is_set():
            return  # already stopping
        self.signal = signal.Signals(signum).name
        self.requested.set()
        if self._depth:
            self._deferred = True
            return
        self.interrupt_query()
        raise KeyboardInterrupt

    @contextmanager
    def protected(self) -> Iterator[None]:
        """Run the block to its end even if SIGINT arrives meanwhile; the interrupt
        is raised after it (a block that fails raises its own error)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0 and self._deferred:
            self._deferred = False
            raise KeyboardInterrupt
