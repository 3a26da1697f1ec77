"""Delivering requests: bounded concurrency, rate limiting, retries, bisection.

:class:`Deliverer` runs :meth:`Destination.deliver` on a thread pool. Each request
is retried with exponential backoff and jitter (tenacity) on
:class:`~connector.kit.errors.Retryable`, waiting at least what ``Retry-After`` asked;
throttling is waited out without using up attempts. Before each start it also waits
what the destination's :class:`~connector.kit.pacing.Pacer` asks (an API that
reports its usage, slowing down before it throttles). A request refused whole for
events the API did not name (:class:`~connector.kit.errors.BatchRejected`) is split in
halves until the bad events stand alone. A request the API took but confirmed only in
part (:class:`~connector.kit.errors.Unconfirmed`) is not sent again: its events fail
with the reason, and after ``Limits.max_unconfirmed`` such answers the run stops. A
request that keeps failing past the
destination's ``give_up_after`` stops the run, as does a
:class:`~connector.kit.errors.Fatal` error: what was not delivered stays pending.

A ``record`` callback stores each request's outcome from the thread that got the
answer, as soon as it has it: the pipeline commits it to the ledger there, so that
what a crash can lose is no more than the answers being written, and the writes run
beside the reading of the next events instead of after it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import pyarrow as pa
import tenacity

from connector.kit.destination import Batch, Destination, Limits
from connector.kit.errors import BatchRejected, Fatal, Retryable, Unconfirmed
from connector.kit.secrets import redact, safe_reason


@dataclass
class Result:
    """What became of one batch: indices into it, by status."""

    batch: Batch
    fingerprints: Sequence[str] | pa.Array  # one per event of the batch
    delivered: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    failed: list[int] = field(default_factory=list)
    failure: str | None = None  # why the failed ones failed
    unconfirmed: bool = False  # the failed ones were taken but not confirmed by the API
    fatal: str | None = None  # a reason to stop the run
    attempts: int = 0
    waited: float = 0.0
    recorded: float = 0.0  # seconds the ``record`` callback took
    record_error: BaseException | None = None  # what the ``record`` callback raised


class RateLimiter:
    """Spaces request starts at least ``1/rate`` seconds apart, across threads."""

    def __init__(self, rate: float | None, sleep: Callable[[float], None],
                 clock: Callable[[], float] = time.monotonic):
        self.interval = 1.0 / rate if rate else 0.0
        self.sleep, self.clock = sleep, clock
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.interval
        delay = start - now
        if delay > 0:
            self.sleep(delay)
        return delay


class Deliverer:
    """Delivers batches for one run.

    :param sleep: how to wait (tests pass a recorder so that no test really waits).
    :param record: called with each :class:`Result` in the delivering thread, before
        the result is handed back; what it raises is kept in ``Result.record_error``.
    """

    def __init__(self, destination: Destination, limits: Limits, *,
                 sleep: Callable[[float], None] = time.sleep,
                 record: Callable[[Result], None] | None = None):
        self.dest = destination
        self.limits = limits
        self.sleep = sleep
        self.record = record
        self.limiter = RateLimiter(limits.rate_per_second, sleep)
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=max(1, limits.concurrency),
                                       thread_name_prefix=f"deliver-{destination.name}")
        self.pending: set[Future[Result]] = set()
        self._unconfirmed = 0  # requests the API confirmed only in part, this run
        self._count_lock = threading.Lock()
        #: The job's settings' values (ids, addresses): never customer data, so the
        #: destination's reasons may show them (:func:`~connector.kit.secrets.safe_reason`).
        self.known = tuple(_setting_values(getattr(destination, "settings", None)))

    # -- the pipeline side ---------------------------------------------------------
    def submit(self, batch: Batch, fingerprints: Sequence[str] | pa.Array) -> Iterator[Result]:
        """Queue a batch; yields the results that completed meanwhile (so that they are
        recorded at once, not when the queue next fills up). Blocks while the queue is
        full, so the reader never runs far ahead of the network."""
        self.pending.add(self.pool.submit(self._deliver, batch, fingerprints))
        finished = {future for future in self.pending if future.done()}
        if finished:
            self.pending -= finished
            for future in finished:
                yield future.result()
        while len(self.pending) >= 2 * max(1, self.limits.concurrency):
            done, self.pending = wait(self.pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def drain(self) -> Iterator[Result]:
        """Wait for every queued batch; yields their results."""
        while self.pending:
            done, self.pending = wait(self.pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def close(self) -> None:
        self.stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)

    # -- one batch -------------------------------------------------------------------
    def _deliver(self, batch: Batch, fingerprints: Sequence[str] | pa.Array) -> Result:
        result = Result(batch, fingerprints)
        if self.stop.is_set():
            result.failed = list(range(len(batch)))
            result.failure = "not sent: the run was stopped"
        else:
            self._deliver_part(batch, 0, result)
        if self.record is not None:
            t = time.perf_counter()
            try:
                self.record(result)
            except BaseException as exc:  # the pipeline raises it in the main thread
                self.stop.set()
                result.record_error = exc
            result.recorded = time.perf_counter() - t
        return result

    def _deliver_part(self, batch: Batch, offset: int, result: Result) -> None:
        indices = range(offset, offset + len(batch))
        if self.stop.is_set():  # a half of a split batch, after the run was stopped
            result.failed.extend(indices)
            result.failure = result.failure or "not sent: the run was stopped"
            return
        try:
            outcome = self._with_retries(batch, result)
        except BatchRejected as exc:
            if len(batch) == 1:
                result.rejected[offset] = self._reason(exc.reason)
                return
            left, right = batch.split()
            self._deliver_part(left, offset, result)
            self._deliver_part(right, offset + len(left), result)
            return
        except Unconfirmed as exc:
            self._unconfirmed_part(indices, self._reason(exc.reason), result)
            return
        except Fatal as exc:
            self.stop.set()
            result.fatal = self._reason(exc.reason)
            result.failed.extend(indices)
            result.failure = result.fatal
            return
        except Retryable as exc:
            self.stop.set()
            result.failed.extend(indices)
            result.failure = self._reason(f"gave up after {result.attempts} attempts: {exc.reason}")
            return
        except Exception as exc:  # a bug in the plugin: stop; the request may have gone
            self.stop.set()
            result.fatal = redact(f"the {self.dest.name} destination failed unexpectedly: "
                                  f"{type(exc).__name__}: {exc}")
            result.failed.extend(indices)
            result.failure = result.fatal
            return
        if not outcome.rejected:  # all delivered: no loop over the events
            result.delivered.extend(indices)
            return
        for i in indices:
            reason = outcome.rejected.get(i - offset)
            if reason is None:
                result.delivered.append(i)
            else:
                result.rejected[i] = self._reason(reason)

    def _reason(self, text: str) -> str:
        """A reason from the destination, as stored and shown: the API's text may echo a
        value it was sent (an email, a phone), so such values are masked."""
        return safe_reason(text, keep=self.known)

    def _unconfirmed_part(self, indices: range, reason: str, result: Result) -> None:
        """Fail the events of a request the API confirmed only in part, without sending
        them again in this run; stop the run at the ``max_unconfirmed``-th such request."""
        result.failed.extend(indices)
        result.failure = result.failure or reason
        result.unconfirmed = True
        with self._count_lock:
            self._unconfirmed += 1
            seen = self._unconfirmed
        if seen >= max(1, self.limits.max_unconfirmed):
            self.stop.set()
            result.fatal = result.fatal or (
                f"{seen} requests in this run were taken but not fully confirmed by the "
                f"{self.dest.name} destination (last: {reason}); the run stopped. Their events "
                "are recorded failed and the rest stays pending: the next run sends them again "
                "with the same event ids")

    def _with_retries(self, batch: Batch, result: Result):  # -> Outcome
        limits = self.limits
        budget = {"attempts": 0, "waited": 0.0}

        def stop(state: tenacity.RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            if not isinstance(exc, Retryable) or not exc.throttled:
                budget["attempts"] += 1
            return (budget["attempts"] >= limits.max_attempts
                    or budget["waited"] >= limits.give_up_after or self.stop.is_set())

        def wait_for(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            backoff = min(60.0, 0.5 * 2 ** (state.attempt_number - 1)) * random.uniform(0.5, 1.0)
            asked = exc.retry_after if isinstance(exc, Retryable) and exc.retry_after else 0.0
            delay = max(backoff, asked)
            budget["waited"] += delay
            return delay

        pacer = getattr(self.dest, "pacer", None)  # absent when __init__ skipped the base's

        def attempt():  # -> Outcome
            result.attempts += 1
            if pacer is not None:  # the destination's own pace (it adds to result.waited)
                pacer.wait(self._sleep(result))
                if self.stop.is_set():  # stopped during a pause: do not send any more
                    raise Retryable("not sent: the run was stopped")
            result.waited += self.limiter.acquire()
            return self.dest.deliver(batch)

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Retryable), stop=stop, wait=wait_for,
            sleep=self._sleep(result), reraise=True)
        return retrying(attempt)

    def _sleep(self, result: Result) -> Callable[[float], None]:
        def sleep(seconds: float) -> None:
            result.waited += seconds
            # Wake early when the run is stopped, rather than sleeping out a long wait.
            if self.sleep is time.sleep:
                self.stop.wait(seconds)
            else:
                self.sleep(seconds)
        return sleep


def _setting_values(settings: object) -> Iterator[str]:
    """Every text and integer value of a destination's settings (a pydantic model),
    nested ones included."""
    def walk(value: object) -> Iterator[str]:
        if isinstance(value, bool):
            return
        if isinstance(value, str | int):
            yield str(value)
        elif isinstance(value, dict):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list | tuple | set):
            for item in value:
                yield from walk(item)

    dump = getattr(settings, "model_dump", None)
    if callable(dump):
        yield from walk(dump())
