"""The plugin kit's Pacer, alone and through the Deliverer: a destination that reads the
API's usage asks offramp to space or pause request starts, before the API throttles."""

from __future__ import annotations

import threading
import time

from connector import Batch, Destination, Limits, Outcome, RunContext, Settings
from connector.kit.pacing import Pacer
from connector.run.delivery import Deliverer

from ..conftest import NOW  # noqa: TID252 - shared test data


def test_an_idle_pacer_never_waits():
    assert Pacer().wait(lambda s: (_ for _ in ()).throw(AssertionError("slept"))) == 0.0


def test_spacing_waits_before_every_start_until_reset():
    pacer, slept = Pacer(), []
    pacer.space(2.5)
    assert [pacer.wait(slept.append) for _ in range(3)] == [2.5, 2.5, 2.5]
    pacer.space(0)
    assert pacer.wait(slept.append) == 0.0 and slept == [2.5, 2.5, 2.5]


def test_a_pause_is_waited_once_and_absorbs_shorter_ones():
    pacer, slept = Pacer(), []
    pacer.pause(60)
    pacer.pause(30)  # another answer of the same moment: absorbed
    assert pacer.pending_pause == 60
    assert pacer.wait(slept.append) == 60 and pacer.wait(slept.append) == 0.0
    pacer.space(5)
    pacer.pause(3)  # shorter than the spacing: the spacing is waited
    assert pacer.wait(slept.append) == 5 and slept == [60, 5]


def test_a_pause_asked_while_one_is_waited_is_absorbed_unless_longer():
    pacer, slept, inside = Pacer(), [], threading.Event()
    release = threading.Event()

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        inside.set()
        release.wait(5)

    pacer.pause(60)
    waiter = threading.Thread(target=pacer.wait, args=(sleep,))
    waiter.start()
    inside.wait(5)
    pacer.pause(60)  # asked by an answer that arrived during the pause
    assert pacer.pending_pause == 0
    pacer.pause(90)  # longer: kept for the next start
    release.set()
    waiter.join(5)
    assert slept == [60] and pacer.pending_pause == 90


def test_threads_take_turns_so_starts_are_spaced():
    pacer, starts, lock = Pacer(), [], threading.Lock()
    pacer.space(0.02)

    def start() -> None:
        pacer.wait(time.sleep)
        with lock:
            starts.append(time.monotonic())

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    starts.sort()
    assert all(b - a >= 0.015 for a, b in zip(starts, starts[1:], strict=False))


class UsageAware(Destination):
    """Answers like an API reporting its usage: high after the first request."""

    name = "usage_aware"

    def __init__(self) -> None:
        super().__init__(Settings(), RunContext("job", NOW))
        self.calls = 0

    def deliver(self, batch: Batch) -> Outcome:
        self.calls += 1
        if self.calls == 1:
            self.pacer.pause(45)  # usage at 96 %: pause before Meta blocks
            self.pacer.space(3)  # and then go slower
        return Outcome()


def test_the_deliverer_waits_what_the_destination_asks_without_using_attempts(sleeps):
    dest = UsageAware()
    deliverer = Deliverer(dest, Limits(concurrency=1, max_attempts=1, give_up_after=1),
                          sleep=sleeps)
    try:
        results = []
        for i in range(3):
            batch = Batch(None, [f"k{i}"], ['{"k":1}'])
            results += list(deliverer.submit(batch, [f"fp{i}"]))
        results += list(deliverer.drain())
    finally:
        deliverer.close()
    assert sorted(len(r.delivered) for r in results) == [1, 1, 1]
    assert sleeps.calls == [45, 3]  # the pause, then the spacing of the third start
    assert [r.attempts for r in results] == [1, 1, 1]
    assert sum(r.waited for r in results) == 48


def test_a_run_stopped_during_a_pause_sends_nothing_more():
    dest = UsageAware()
    deliverer = Deliverer(dest, Limits(concurrency=1), sleep=lambda s: deliverer.stop.set())
    try:
        first = list(deliverer.submit(Batch(None, ["a"], ["{}"]), ["fa"]))
        first += list(deliverer.drain())
        second = list(deliverer.submit(Batch(None, ["b"], ["{}"]), ["fb"]))
        second += list(deliverer.drain())
    finally:
        deliverer.close()
    assert first[0].delivered == [0] and second[0].failed == [0]
    assert dest.calls == 1 and "stopped" in (second[0].failure or "")
