"""Answers that go wrong after Meta processed a request, for the emulator's fault matrix.

The emulator's other faults (:meth:`~plugins.meta.emulator.MetaEmulator.timeout`,
``server_error`` ...) answer instead of processing: Meta never had the events. These
process the request first, so that the client cannot tell whether Meta has them:

* a short acknowledgement: HTTP 200 with ``events_received`` smaller than the events
  sent. The emulator keeps only the first ``received`` events (the harsher reading:
  a client that took the answer as "all delivered" would lose the rest);
* a garbled answer: HTTP 200 whose body is cut off, not JSON;
* a late answer: the answer is held for some seconds, then the connection is dropped
  (a client whose timeout is shorter sees a timeout).

(:meth:`~plugins.meta.emulator.MetaEmulator.lose_responses` drops the answer at once: a
connection reset.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

#: The body of a garbled answer: the start of Meta's JSON, cut off.
GARBLED = b'{"events_received": 1'


@dataclass
class AnswerFaults:
    """Queued faults of the answers of processed requests; use under the emulator's lock."""

    short: list[int] = field(default_factory=list)  # events_received of the next answers
    garbled: int = 0
    late: list[float] = field(default_factory=list)  # seconds to hold the next answers
    _holding: dict[int, float] = field(default_factory=dict)  # thread -> seconds

    def received(self, sent: int) -> int:
        """How many of ``sent`` events the next accepted request keeps and reports."""
        return min(sent, self.short.pop(0)) if self.short else sent

    def garble(self) -> bool:
        if self.garbled > 0:
            self.garbled -= 1
            return True
        return False

    def hold(self) -> None:
        """Note that this thread's answer is to be held (then dropped), if one is queued."""
        if self.late:
            self._holding[threading.get_ident()] = self.late.pop(0)

    def held(self) -> float:
        """Seconds this thread's answer is to be held (0: answer at once)."""
        return self._holding.pop(threading.get_ident(), 0.0)

    def clear(self) -> None:
        self.short.clear()
        self.late.clear()
        self.garbled = 0
        self._holding.clear()


class ProcessedAnswers:
    """The emulator's methods that queue these faults (mixed into the Meta emulator)."""

    lock: Any
    answers: AnswerFaults

    def short_ack(self, received: int, times: int = 1) -> None:
        """Keep only the first ``received`` events of each of the next ``times`` accepted
        requests, and answer ``events_received: received`` (a short acknowledgement)."""
        with self.lock:
            self.answers.short += [received] * times

    def garble_responses(self, times: int = 1) -> None:
        """Process the next ``times`` requests, then answer HTTP 200 with a cut-off body."""
        with self.lock:
            self.answers.garbled += times

    def answer_late(self, seconds: float, times: int = 1) -> None:
        """Process the next ``times`` requests, hold each answer ``seconds``, then drop the
        connection: a client with a shorter timeout times out on a request Meta has."""
        with self.lock:
            self.answers.late += [seconds] * times
