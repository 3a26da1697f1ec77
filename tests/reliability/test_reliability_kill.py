"""Kill ``offramp run`` with SIGKILL at several points, run again: nothing lost, and
nothing sent twice except the requests that were in flight at the kill."""

from __future__ import annotations

import signal
from collections import Counter

from reliability_kit import SLOW, GatedMeta, Shop, kill_after_one_commit, spawn, wait_for

ORDERS = 3000  # three requests of 1,000 events; the job sends two at a time


def expected_ids() -> set[str]:
    return {f"o{i:05d}" for i in range(ORDERS)}


def assert_resumed(shop: Shop, emu: GatedMeta, duplicates: int) -> None:
    """The re-run finished the job: every order reached Meta exactly once after
    deduplication, the ledger says delivered for all, the killed run is marked."""
    summary = shop.run()
    assert summary.status == "succeeded", summary.error
    kept = emu.accepted_ids()
    assert Counter(kept) == Counter(expected_ids())  # each order kept once, none missing
    assert emu.duplicates == duplicates
    assert set(shop.ledger().values()) == {"delivered"}
    assert set(shop.ledger()) == expected_ids()
    assert [r["status"] for r in shop.runs()] == ["killed", "succeeded"]
    killed = shop.runs()[0]
    assert killed["finished_at"] is not None


def test_kill_before_the_first_request(shop: Shop, emu: GatedMeta) -> None:
    """Killed while DuckDB reads the rows (the fingerprint pass before shaping): nothing
    was sent, nothing is lost."""
    shop.write_orders(ORDERS)
    shop.write_job(where=SLOW)
    emu.hold_after(0)  # a safety net: no request may get through before the kill
    proc = spawn(shop, "run", "sync", "--quiet")
    # The first query over the rows is the pass that fingerprints each order.
    proc.wait_note(lambda notes: "fingerprint" in notes, "the first query over the rows")
    proc.popen.send_signal(signal.SIGKILL)
    code, _, _ = proc.finish()
    assert code == -signal.SIGKILL
    assert emu.arrivals == 0
    assert shop.ledger() == {}
    assert [r["status"] for r in shop.runs()] == ["running"]  # until the next run looks
    emu.release()
    shop.write_job()  # the same events, without the slow condition
    assert_resumed(shop, emu, duplicates=0)
    assert emu.requests_accepted == ORDERS // 1000


def kill_mid_run(shop: Shop, emu: GatedMeta) -> tuple[list[list[str]], list[list[str]]]:
    """Run, let one request through, hold the next two, SIGKILL: returns the batches
    delivered before the kill and the two held in flight."""
    shop.write_orders(ORDERS)
    shop.write_job()
    assert kill_after_one_commit(shop, emu) == -signal.SIGKILL
    sent = emu.sent()
    assert len(sent) == 3
    delivered, in_flight = sent[:1], sent[1:]
    ledger = shop.ledger()
    assert set(ledger) == {k for batch in delivered for k in batch}
    assert set(ledger.values()) == {"delivered"}
    return delivered, in_flight


def test_kill_while_requests_are_in_flight_and_never_arrive(shop: Shop, emu: GatedMeta) -> None:
    """The requests in flight at the kill never reached Meta: the re-run sends the
    rest, each order once."""
    _, in_flight = kill_mid_run(shop, emu)
    emu.release(process=False)
    assert emu.requests_accepted == 1
    assert_resumed(shop, emu, duplicates=0)
    assert len(in_flight) == 2


def test_kill_while_requests_are_in_flight_and_meta_processes_them(
        shop: Shop, emu: GatedMeta) -> None:
    """The worst case: Meta processed the two requests in flight, but the process
    died before it could commit their outcome. The re-run sends those events again
    (same order_id, event_name and event_time, so Meta keeps one of each), and only
    those: raw duplicates are exactly the requests in flight at the kill."""
    delivered, in_flight = kill_mid_run(shop, emu)
    emu.lose_responses(2)  # Meta handles them; the answers go nowhere
    emu.release(process=True)
    wait_for(lambda: emu.requests_accepted == 3, what="Meta to process the held requests")
    assert_resumed(shop, emu, duplicates=2 * 1000)
    counts = Counter(k for batch in emu.sent() for k in batch)
    twice = {k for k, n in counts.items() if n == 2}
    assert twice == {k for batch in in_flight for k in batch}
    assert max(counts.values()) == 2
    assert not twice & {k for batch in delivered for k in batch}
