"""A sliding window over IQM REST calls: at most N requests in any 60 seconds.

The core paces :meth:`deliver` calls with ``Limits.rate_per_second``; this window
also counts the calls the core does not see (login, token refresh, finding or
creating the conversion, the mirror's listing), so that the whole run stays under
IQM's 20 requests a minute.
Clock and sleep are injectable so tests never wait.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RequestWindow:
    """Blocks in :meth:`acquire` until one more request fits in the window."""

    def __init__(self, max_requests: int = 20, period: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.max_requests = max_requests
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot and take it; returns the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self.clock()
                while self._sent and self._sent[0] <= now - self.period:
                    self._sent.popleft()
                if len(self._sent) < self.max_requests:
                    self._sent.append(now)
                    return waited
                pause = self._sent[0] + self.period - now
                self.sleep(pause)
                waited += pause
