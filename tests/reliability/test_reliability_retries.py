"""Retries with backoff, Retry-After, throttling that does not count, and a
destination that is down for a whole run and then back. Delivery waits through an
injected sleep that records what it was asked to wait."""

from __future__ import annotations

import email.utils
import time

from reliability_kit import GatedMeta, Shop, Sleeps, wide_consoles

from connector import Fault
from connector.cli.output import print_summary


def test_throttling_is_waited_out_as_asked_and_never_used_up(shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(1000)
    shop.write_job(concurrency=1)
    emu.throttle(code=17, retry_after=7, times=9)  # more than the 6 attempts a request has
    sleep = Sleeps()
    summary = shop.run(sleep=sleep)
    assert summary.status == "succeeded" and summary.counts.delivered == 1000
    assert len(sleep.calls) == 9 and min(sleep.calls) >= 7  # Retry-After honored each time
    assert len(emu.arrived) == 10 and emu.requests_accepted == 1


def test_server_errors_back_off_exponentially_with_jitter(shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(1000)
    shop.write_job(concurrency=1)
    emu.server_error(503, times=3)
    emu.transient(code=2, times=1)
    sleep = Sleeps()
    summary = shop.run(sleep=sleep)
    assert summary.status == "succeeded"
    assert len(sleep.calls) == 4
    for attempt, waited in enumerate(sleep.calls):  # 0.5 s doubling, times 0.5-1 (jitter)
        assert 0.5 * 2 ** attempt * 0.5 <= waited <= 0.5 * 2 ** attempt
    assert len(emu.arrived) == 5 and emu.duplicates == 0


def test_retry_after_on_a_server_error_in_seconds_and_as_a_date(shop: Shop,
                                                                emu: GatedMeta) -> None:
    shop.write_orders(1000)
    shop.write_job(concurrency=1)
    emu.inject(Fault(status=503, body="busy", headers={"Retry-After": "12"}))
    deadline = time.time() + 40
    when = email.utils.formatdate(deadline, usegmt=True)  # whole seconds: up to 1 s less
    emu.inject(Fault(status=502, body="busy", headers={"Retry-After": when}))
    sleep = Sleeps()
    started = time.time()
    assert shop.run(sleep=sleep).status == "succeeded"
    ended = time.time()
    assert sleep.calls[0] == 12
    # The date is read against the clock when the answer comes, somewhere in the run
    # (seconds into it on a loaded machine).
    assert deadline - 1 - ended <= sleep.calls[1] <= deadline - started


def test_destination_down_for_a_whole_run_then_back(shop: Shop, emu: GatedMeta) -> None:
    """All requests fail: the run stops after a bounded number of attempts and
    seconds, says why, and leaves the events pending. When Meta is back, the next
    run sends the failed events first, then everything else, each once."""
    shop.write_orders(ids=range(2000, 5000))
    shop.write_job(concurrency=1)
    emu.server_error(503, times=1000)
    sleep = Sleeps()
    down = shop.run(sleep=sleep)
    assert down.status == "failed"
    assert down.error == ("the destination kept failing (gave up after 6 attempts: Meta error 2: "
                          "(#2) Service temporarily unavailable); the run stopped and the rest "
                          "stays pending for the next run")
    assert len(emu.arrived) == 6  # one request, 6 attempts; nothing else was tried
    assert sum(sleep.calls) <= 0.5 * (1 + 2 + 4 + 8 + 16)
    assert emu.events() == []
    failed = {k for k, status in shop.ledger().items() if status == "failed"}
    assert set(shop.ledger().values()) == {"failed"} and 1000 <= len(failed) <= 2000
    (run,) = shop.runs()
    assert (run["status"], run["delivered"], run["failed"]) == ("failed", 0, len(failed))
    assert "kept failing" in run["error"]

    emu.clear_faults()
    shop.write_orders(ids=range(5000))  # Meta is back, and 2,000 new orders came in
    back = shop.run()
    assert back.status == "succeeded" and back.counts.delivered == 5000
    batches = emu.sent()[6:]
    first = [k for batch in batches[: len(failed) // 1000] for k in batch]
    assert set(first) == failed  # the failed events went first
    assert sorted(emu.accepted_ids()) == [f"o{i:05d}" for i in range(5000)]
    assert emu.duplicates == 0


def test_the_summary_of_a_failed_run_says_what_to_do(shop: Shop, emu: GatedMeta,
                                                     capsys) -> None:  # type: ignore[no-untyped-def]
    shop.write_orders(1000)
    shop.write_job(concurrency=1)
    emu.server_error(500, times=100)
    summary = shop.run()
    with wide_consoles():
        print_summary(summary)
    printed = capsys.readouterr().out
    assert "failed: run 1 of sync -> meta" in printed
    assert "delivered 0 | rejected 0 | failed 1,000" in printed
    assert "the rest stays pending for the next run" in printed
