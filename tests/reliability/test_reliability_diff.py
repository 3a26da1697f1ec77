"""The ledger diff: a run sends only events that are new or changed since their last
delivery; ``--full`` resends everything; a dry run sends and records nothing."""

from __future__ import annotations

from reliability_kit import GatedMeta, Shop, cli


def price(changed: dict[int, float]):  # type: ignore[no-untyped-def]
    return lambda i: changed.get(i, 10.0 + i % 7)


def test_only_new_and_changed_events_are_sent(shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(2000)
    shop.write_job()
    first = shop.run()
    assert (first.counts.delivered, first.counts.requests) == (2000, 2)
    seen = len(emu.arrived)

    again = shop.run()
    assert (again.counts.unchanged, again.counts.delivered) == (2000, 0)
    assert len(emu.arrived) == seen  # not one request

    shop.write_orders(2000, price=price({42: 99.0}))  # one order's price changes
    changed = shop.run()
    assert (changed.counts.unchanged, changed.counts.delivered) == (1999, 1)
    assert emu.sent()[seen:] == [["o00042"]]
    # Meta keeps the first version of an offline event (same order_id, event_name and
    # event_time): the corrected value is sent, and Meta drops it as a duplicate.
    assert emu.duplicates == 1

    shop.write_orders(ids=range(2001), price=price({42: 99.0}))  # a new order
    added = shop.run()
    assert (added.counts.unchanged, added.counts.delivered) == (2000, 1)
    assert emu.sent()[seen + 1:] == [["o02000"]]

    seen = len(emu.arrived)
    full = cli(shop, "run", "sync", "--full", "--quiet")
    assert full.exit_code == 0, full.output + full.stderr
    assert "delivered 2,001" in full.output and "unchanged 0" in full.output
    assert sorted(k for batch in emu.sent()[seen:] for k in batch) == \
        sorted(f"o{i:05d}" for i in range(2001))
    assert emu.duplicates == 1 + 2001
    assert sorted(emu.accepted_ids()) == sorted(f"o{i:05d}" for i in range(2001))

    assert shop.run().counts.delivered == 0  # the diff is back


def test_a_dry_run_sends_nothing_and_records_nothing(shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(2500)
    shop.write_job()
    dry = cli(shop, "run", "sync", "--dry-run", "--quiet")
    assert dry.exit_code == 0, dry.output + dry.stderr
    assert "dry_run: run 1 of sync" in dry.output and "requests built 3" in dry.output
    assert emu.arrived == [] and shop.ledger() == {}
    real = shop.run()
    assert (real.counts.delivered, real.counts.unchanged) == (2500, 0)
    assert [r["status"] for r in shop.runs()] == ["dry_run", "succeeded"]
