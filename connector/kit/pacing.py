"""How a destination asks offramp to send more slowly, before the API throttles it.

Some APIs report how close a caller is to its limit on every answer (Meta's
``X-Business-Use-Case-Usage`` header, say). A destination reads that in
:meth:`~connector.kit.destination.Destination.deliver` and tells its
:attr:`~connector.kit.destination.Destination.pacer`:

* :meth:`Pacer.space`: from now on, start requests at least this many seconds apart
  (across all delivery threads); ``space(0)`` goes back to the declared limits;
* :meth:`Pacer.pause`: start no request for this many seconds; requests in flight
  finish.

offramp calls :meth:`Pacer.wait` before every request it starts (retries included),
on top of :attr:`~connector.kit.destination.Limits.rate_per_second`. Waiting here is
not a failure: it uses no attempt and does not count toward ``give_up_after``. For an
API that has already refused a request, raise :class:`~connector.kit.errors.Retryable`
with ``throttled=True`` and ``retry_after`` instead: that wait is bounded by
``give_up_after``, so a long block ends the run and the next run resumes.

The waits need no clock: one thread at a time sleeps the pause or the spacing before
its start, the others queue behind it, so starts are at least ``space`` seconds apart
(more when requests take longer than that).
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Pacer:
    """One destination's pace, shared by its delivery threads. Thread-safe."""

    def __init__(self) -> None:
        self._state = threading.Lock()
        self._gate = threading.Lock()  # held while a thread waits its turn
        self._spacing = 0.0
        self._pause = 0.0
        self._pausing = 0.0  # the pause a thread is sleeping now

    @property
    def spacing(self) -> float:
        """The seconds asked between request starts (0: none)."""
        with self._state:
            return self._spacing

    @property
    def pending_pause(self) -> float:
        """The pause the next request start will wait (0: none)."""
        with self._state:
            return self._pause

    def space(self, seconds: float) -> None:
        """Start requests at least ``seconds`` apart from now on; 0 stops spacing them."""
        with self._state:
            self._spacing = max(0.0, float(seconds))

    def pause(self, seconds: float) -> None:
        """Start no request for ``seconds``. A pause no longer than one already asked or
        being waited is absorbed by it, so answers that arrive together ask once."""
        seconds = float(seconds)
        with self._state:
            if seconds > max(self._pause, self._pausing):
                self._pause = seconds

    def wait(self, sleep: Callable[[float], None]) -> float:
        """Wait before a request start (offramp calls this); returns the seconds waited."""
        with self._state:
            if not (self._spacing or self._pause):
                return 0.0
        with self._gate:
            with self._state:
                delay = max(self._pause, self._spacing)
                self._pausing, self._pause = self._pause, 0.0
            try:
                if delay > 0:
                    sleep(delay)
            finally:
                with self._state:
                    self._pausing = 0.0
            return delay
