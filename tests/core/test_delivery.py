"""The Deliverer on its own: retries, backoff, throttling, bisection, stopping,
rate limiting and bounded concurrency, with scripted destinations and no waiting."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from connector import Batch, Destination, Limits, Outcome, RunContext, Settings
from connector.kit.errors import BatchRejected, Fatal, Retryable, Unconfirmed
from connector.run import delivery
from connector.run.delivery import Deliverer, RateLimiter, Result

from ..conftest import NOW  # noqa: TID252 - shared test data

KEYS = [f"k{i}" for i in range(8)]


class Scripted(Destination):
    """``deliver`` answers with ``script(batch, call_number)``: an Outcome, or an
    exception to raise."""

    name = "scripted"

    def __init__(self, script: Callable[[Batch, int], Any]):
        super().__init__(Settings(), RunContext("job", NOW))
        self.script = script
        self.batches: list[list[str]] = []
        self._lock = threading.Lock()

    def deliver(self, batch: Batch) -> Outcome:
        with self._lock:
            self.batches.append(list(batch.keys))
            n = len(self.batches)
        answer = self.script(batch, n)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def batch(keys: list[str] = KEYS) -> Batch:
    return Batch(None, list(keys), [f'{{"key":"{k}"}}' for k in keys])


def deliver_one(dest: Destination, limits: Limits, sleep, keys: list[str] = KEYS) -> Result:
    deliverer = Deliverer(dest, limits, sleep=sleep)
    try:
        results = list(deliverer.submit(batch(keys), [f"fp-{k}" for k in keys]))
        results += list(deliverer.drain())
    finally:
        deliverer.close()
    (result,) = results
    return result


def test_a_good_request_is_delivered_once(sleeps) -> None:
    dest = Scripted(lambda b, n: Outcome(info={"ok": True}))
    result = deliver_one(dest, Limits(), sleeps)
    assert result.delivered == list(range(8))
    assert (result.rejected, result.failed, result.attempts) == ({}, [], 1)
    assert sleeps.calls == []
    assert result.fingerprints[0] == "fp-k0"


def test_retryable_failures_are_retried_with_growing_jittered_backoff(sleeps) -> None:
    dest = Scripted(lambda b, n: Retryable("502") if n <= 3 else Outcome())
    result = deliver_one(dest, Limits(max_attempts=6), sleeps)
    assert result.delivered == list(range(8)) and result.attempts == 4
    assert len(sleeps.calls) == 3
    # 0.5 s, 1 s, 2 s, each with jitter in [50 %, 100 %]
    for waited, base in zip(sleeps.calls, (0.5, 1.0, 2.0), strict=True):
        assert base / 2 <= waited <= base
    assert result.waited == pytest.approx(sum(sleeps.calls))


def test_retry_after_is_honoured(sleeps) -> None:
    dest = Scripted(lambda b, n: Retryable("503", retry_after=7.5) if n == 1 else Outcome())
    result = deliver_one(dest, Limits(), sleeps)
    assert result.delivered and sleeps.calls == [7.5]


def test_throttling_does_not_use_up_attempts(sleeps) -> None:
    dest = Scripted(lambda b, n: Retryable("429", throttled=True, retry_after=1.0) if n <= 5
                    else Outcome())
    result = deliver_one(dest, Limits(max_attempts=2), sleeps)
    assert result.delivered == list(range(8))
    assert result.attempts == 6 and len(sleeps.calls) == 5


def test_giving_up_after_max_attempts_fails_the_request_and_stops(sleeps) -> None:
    dest = Scripted(lambda b, n: Retryable("connection reset"))
    deliverer = Deliverer(dest, Limits(max_attempts=3), sleep=sleeps)
    try:
        (result,) = list(deliverer.submit(batch(), ["fp"] * 8)) + list(deliverer.drain())
        assert result.failed == list(range(8)) and result.delivered == []
        assert result.failure == "gave up after 3 attempts: connection reset"
        assert len(dest.batches) == 3 and len(sleeps.calls) == 2
        assert deliverer.stop.is_set()
        # the next request is not even tried
        (later,) = list(deliverer.submit(batch(["z"]), ["fp"])) + list(deliverer.drain())
        assert later.failed == [0] and later.failure == "not sent: the run was stopped"
        assert len(dest.batches) == 3
    finally:
        deliverer.close()


def test_an_unconfirmed_request_is_not_sent_again_and_the_run_stops_at_the_bound(
        sleeps) -> None:
    """A request the API took but confirmed only in part fails with the reason, without
    a retry; at the ``max_unconfirmed``-th the run stops, and what is queued is not sent."""
    dest = Scripted(lambda b, n: Unconfirmed(f"took {n}"))
    deliverer = Deliverer(dest, Limits(max_unconfirmed=2, concurrency=1), sleep=sleeps)
    try:
        (first,) = list(deliverer.submit(batch(), ["fp"] * 8)) + list(deliverer.drain())
        assert first.failed == list(range(8)) and first.unconfirmed
        assert (first.failure, first.fatal, first.attempts) == ("took 1", None, 1)
        assert not deliverer.stop.is_set() and sleeps.calls == []
        (second,) = list(deliverer.submit(batch(), ["fp"] * 8)) + list(deliverer.drain())
        assert second.fatal is not None and second.fatal.startswith(
            "2 requests in this run were taken but not fully confirmed by the scripted "
            "destination (last: took 2); the run stopped.")
        assert deliverer.stop.is_set()
        (later,) = list(deliverer.submit(batch(["z"]), ["fp"])) + list(deliverer.drain())
        assert later.failure == "not sent: the run was stopped" and not later.unconfirmed
        assert len(dest.batches) == 2
    finally:
        deliverer.close()


def test_give_up_after_bounds_the_time_spent_waiting(sleeps) -> None:
    dest = Scripted(lambda b, n: Retryable("throttled", throttled=True, retry_after=3600))
    result = deliver_one(dest, Limits(max_attempts=100, give_up_after=300), sleeps)
    assert result.failed == list(range(8))
    assert sum(sleeps.calls) < 300  # the hour-long wait was never slept
    assert result.attempts == 1


def test_bisection_isolates_exactly_the_bad_events(sleeps) -> None:
    bad = {"k2", "k5"}

    def script(b: Batch, n: int) -> Any:
        return BatchRejected("invalid event in request") if bad & set(b.keys) else Outcome()

    dest = Scripted(script)
    result = deliver_one(dest, Limits(), sleeps)
    assert result.rejected == {2: "invalid event in request", 5: "invalid event in request"}
    assert result.delivered == [0, 1, 3, 4, 6, 7]
    assert ["k2"] in dest.batches and ["k5"] in dest.batches
    good = [k for b in dest.batches if not bad & set(b) for k in b]
    assert sorted(good) == sorted(set(KEYS) - bad)  # each good event accepted once
    assert len(dest.batches) <= 1 + 2 * len(bad) * 3  # log2(8) levels per bad event


def test_partial_rejections_map_back_through_bisection(sleeps) -> None:
    def script(b: Batch, n: int) -> Any:
        if "k1" in b.keys:
            return BatchRejected("bad request")
        refused = {i: "bad email" for i, k in enumerate(b.keys) if k == "k6"}
        return Outcome(rejected=refused)

    result = deliver_one(Scripted(script), Limits(), sleeps)
    assert result.rejected == {1: "bad request", 6: "bad email"}
    assert sorted(result.delivered) == [0, 2, 3, 4, 5, 7]


def test_fatal_stops_the_run_without_retrying(sleeps) -> None:
    dest = Scripted(lambda b, n: Fatal("token expired: set SINK_TOKEN"))
    deliverer = Deliverer(dest, Limits(max_attempts=5), sleep=sleeps)
    try:
        (result,) = list(deliverer.submit(batch(), ["fp"] * 8)) + list(deliverer.drain())
    finally:
        deliverer.close()
    assert result.fatal == "token expired: set SINK_TOKEN"
    assert result.failed == list(range(8)) and len(dest.batches) == 1
    assert deliverer.stop.is_set() and sleeps.calls == []


def test_fatal_during_bisection_sends_no_more_halves(sleeps) -> None:
    def script(b: Batch, n: int) -> Any:
        return BatchRejected("bad") if n == 1 else Fatal("permission revoked")

    dest = Scripted(script)
    result = deliver_one(dest, Limits(), sleeps)
    assert len(dest.batches) == 2  # the whole, then the first half; never the second half
    assert result.fatal == "permission revoked"
    assert sorted(result.failed) == list(range(8)) and result.delivered == []


def test_an_unexpected_exception_is_treated_as_fatal(sleeps) -> None:
    dest = Scripted(lambda b, n: ValueError("cannot parse the answer"))
    result = deliver_one(dest, Limits(), sleeps)
    assert result.failed == list(range(8))
    assert result.fatal == ("the scripted destination failed unexpectedly: ValueError: "
                            "cannot parse the answer")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_rate_limiter_spaces_request_starts() -> None:
    clock = FakeClock()
    limiter = RateLimiter(4.0, clock.sleep, clock)
    starts = []
    for _ in range(5):
        limiter.acquire()
        starts.append(clock())
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps == [pytest.approx(0.25)] * 4


def test_rate_limiter_is_shared_across_threads() -> None:
    clock = FakeClock()
    waits: list[float] = []
    limiter = RateLimiter(10.0, lambda s: waits.append(s), clock)  # the clock stands still
    threads = [threading.Thread(target=limiter.acquire) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # eight starts booked 0.1 s apart: the waits are 0, 0.1, ..., 0.7 in some order
    assert sorted([0.0] + waits) == pytest.approx([i / 10 for i in range(8)])


def test_no_rate_means_no_waiting() -> None:
    limiter = RateLimiter(None, lambda s: pytest.fail("waited"))
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]


def test_requests_in_flight_are_bounded(sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    in_flight = peak = 0
    lock = threading.Lock()
    blocked = threading.Event()
    waited_on: list[int] = []
    real_wait = delivery.wait

    def spying_wait(fs, return_when):  # the feeder blocks here when the queue is full
        waited_on.append(len(fs))
        blocked.set()
        return real_wait(fs, return_when=return_when)

    monkeypatch.setattr(delivery, "wait", spying_wait)

    def script(b: Batch, n: int) -> Any:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        assert release.wait(5), "never released"
        with lock:
            in_flight -= 1
        return Outcome()

    dest = Scripted(script)
    deliverer = Deliverer(dest, Limits(concurrency=2), sleep=sleeps)
    submitted: list[int] = []
    results: list[Result] = []

    def feed() -> None:
        for i in range(10):
            results.extend(deliverer.submit(batch([f"e{i}"]), ["fp"]))
            submitted.append(i)
        results.extend(deliverer.drain())

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        assert blocked.wait(5)
        # the 4th submit waits: 2 requests running, 2 queued (2 x concurrency)
        assert waited_on == [4] and submitted == [0, 1, 2]
        assert len(dest.batches) <= 2
    finally:
        release.set()
        feeder.join(5)
        deliverer.close()
    assert not feeder.is_alive()
    assert peak == 2
    assert max(waited_on) == 4
    assert len(results) == 10 and all(r.delivered == [0] for r in results)


def test_record_sees_each_final_result_in_the_delivering_thread_before_it_is_returned(
        sleeps) -> None:
    seen: list[tuple[str, list[int], dict[int, str]]] = []

    def record(result: Result) -> None:
        seen.append((threading.current_thread().name, list(result.delivered),
                     dict(result.rejected)))

    dest = Scripted(lambda b, n: Outcome(rejected={0: "bad"}) if b.keys[0] == "k4" else Outcome())
    deliverer = Deliverer(dest, Limits(concurrency=2), sleep=sleeps, record=record)
    try:
        results = [r for keys in (KEYS[:4], KEYS[4:])
                   for r in deliverer.submit(batch(keys), keys)]
        results += list(deliverer.drain())
    finally:
        deliverer.close()
    assert len(results) == 2 and all(r.record_error is None for r in results)
    assert sorted((d, r) for _, d, r in seen) == [([0, 1, 2, 3], {}), ([1, 2, 3], {0: "bad"})]
    assert all(name.startswith("deliver-scripted") for name, _, _ in seen)


def test_a_record_that_raises_is_kept_with_the_result_and_stops_the_rest(sleeps) -> None:
    def record(result: Result) -> None:
        raise OSError("disk full")

    deliverer = Deliverer(Scripted(lambda b, n: Outcome()), Limits(concurrency=1),
                          sleep=sleeps, record=record)
    try:
        results = list(deliverer.submit(batch(KEYS[:4]), KEYS[:4])) + list(deliverer.drain())
        assert deliverer.stop.is_set()
        (later,) = list(deliverer.submit(batch(KEYS[4:]), KEYS[4:])) + list(deliverer.drain())
    finally:
        deliverer.close()
    (first,) = results
    assert first.delivered == [0, 1, 2, 3] and isinstance(first.record_error, OSError)
    assert later.delivered == [] and later.failure == "not sent: the run was stopped"
