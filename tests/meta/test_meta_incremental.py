"""Incremental runs of a Meta job: the orders whose rows did not change since their
events were delivered are not shaped again (connector.incremental), and a run that
skips them ends exactly as one that shapes everything."""

from __future__ import annotations

from typing import Any

import pytest

from connector.emulator import Fault
from plugins.meta.destination import MetaDestination
from tests.meta.conftest import MetaProject, row, settings_for

ROWS = [
    row("o-1", product_id="a", quantity=2, price=5.0),
    row("o-1", product_id="b", quantity=1, price=3.0),
    row("o-2", email="b@example.com"),
    row("o-3", email="c@example.com"),
    row("o-3", product_id="back", quantity=-1),          # a return: rejected every run
    row("o-4", email=None, phone=None),                  # no contact: rejected every run
]


def counts(summary) -> dict[str, int]:
    c = summary.counts
    return {"rows_read": c.rows_read, "events": c.events, "unchanged": c.unchanged,
            "delivered": c.delivered, "rejected": c.rejected, "failed": c.failed}


def sources(project: MetaProject) -> dict[str, int]:
    return {r["source_key"]: r["events"] for r in project.state_rows(
        "SELECT source_key, events FROM state.sources")}


def deliveries(project: MetaProject, key: str) -> list[str]:
    """The fingerprints of the payloads delivered under ``key``, oldest first (the
    emulator, like Meta, keeps only the first event of an order)."""
    return [r["fingerprint"] for r in project.state_rows(
        "SELECT event_key, fingerprint FROM state.ledger WHERE status = 'delivered' "
        "ORDER BY seq") if r["event_key"] == key]


def skipped_note(summary) -> str | None:
    return next((n for n in summary.notes if "not shaped" in n), None)


@pytest.fixture
def shop(meta_project: MetaProject, emu) -> MetaProject:
    meta_project.write_rows(ROWS)
    meta_project.write_job()
    return meta_project


def test_a_rerun_with_nothing_changed_shapes_only_the_orders_with_rejects(shop, emu) -> None:
    first = shop.run()
    assert counts(first) == {"rows_read": 6, "events": 5, "unchanged": 0, "delivered": 3,
                             "rejected": 2, "failed": 0}
    # Only orders whose every event is settled are remembered: o-3 has a rejected line.
    assert sources(shop) == {"o-1": 1, "o-2": 1}
    sent = len(emu.snapshot()["requests"])

    again = shop.run()
    assert skipped_note(again) == ("2 keys (2 events) not shaped: their rows are as they "
                                   "were when their events were delivered")
    # The same counts as a run that shapes everything: skipped events are unchanged.
    assert counts(again) == {"rows_read": 6, "events": 5, "unchanged": 3, "delivered": 0,
                             "rejected": 2, "failed": 0}
    assert len(emu.snapshot()["requests"]) == sent
    assert sources(shop) == {"o-1": 1, "o-2": 1}
    assert [r["event_key"] for r in shop.rejects() if r["run_id"] == again.run_id] == [
        "o-3/back", "o-4"]  # rejects are still reported on every run


def test_skipping_gives_the_counts_of_a_run_that_shapes_everything(shop, emu,
                                                                   monkeypatch) -> None:
    shop.run()
    skipping = counts(shop.run())
    monkeypatch.setattr(MetaDestination, "source_key", lambda self, columns: None)
    assert counts(shop.run()) == skipping


def test_a_changed_row_reshapes_and_resends_only_its_order(shop, emu) -> None:
    shop.run()
    changed = [dict(r) for r in ROWS]
    changed[1]["price"] = 4.0  # the second line of o-1
    shop.write_rows(changed)
    again = shop.run()
    assert skipped_note(again).startswith("1 keys (1 events)")  # o-2
    assert counts(again)["delivered"] == 1
    first, second = deliveries(shop, "o-1")
    assert first != second and len(deliveries(shop, "o-2")) == 1
    assert sources(shop) == {"o-1": 1, "o-2": 1}


def test_new_and_deleted_orders(shop, emu) -> None:
    shop.run()
    shop.write_rows([r for r in ROWS if r["order_id"] != "o-2"] + [row("o-5")])
    again = shop.run()
    assert skipped_note(again).startswith("1 keys (1 events)")  # o-1
    assert counts(again)["delivered"] == 1  # o-5
    assert sources(shop) == {"o-1": 1, "o-5": 1}  # o-2 is gone from the rows


@pytest.mark.parametrize("change", [{"limited_data_use": True}, {"dataset_id": "987654321"}])
def test_settings_that_change_the_events_shape_everything_again(shop, emu,
                                                                change: dict[str, Any]) -> None:
    shop.run()
    shop.write_job(settings_for(**change))
    again = shop.run()
    assert skipped_note(again) is None
    assert counts(again)["delivered"] == 3 and counts(again)["unchanged"] == 0
    assert skipped_note(shop.run()) is not None  # and from then on, skips again


def test_settings_that_do_not_change_the_events_keep_the_skips(shop, emu) -> None:
    shop.run()
    shop.write_job(settings_for(upload_tag="nightly", concurrency=2))
    assert skipped_note(shop.run()).startswith("2 keys")


def test_a_full_run_resends_everything_and_remembers_it(shop, emu) -> None:
    shop.run()
    full = shop.run(full=True)
    assert skipped_note(full) is None
    assert counts(full)["delivered"] == 3
    assert sources(shop) == {"o-1": 1, "o-2": 1}


def test_orders_whose_delivery_failed_are_not_remembered(shop, emu) -> None:
    emu.inject(Fault(503, {"error": {"message": "down", "code": 2}}, times=10_000))
    failed = shop.run()
    assert failed.status == "failed" and failed.counts.delivered == 0
    assert sources(shop) == {}
    emu.clear_faults()
    retry = shop.run()
    assert skipped_note(retry) is None
    assert counts(retry)["delivered"] == 3


def test_a_dry_run_skips_but_remembers_nothing(shop, emu) -> None:
    dry = shop.run(dry_run=True)
    assert skipped_note(dry) is None and counts(dry)["unchanged"] == 0
    assert sources(shop) == {}
    shop.run()
    shop.write_rows(ROWS + [row("o-5")])
    dry = shop.run(dry_run=True)
    assert skipped_note(dry).startswith("2 keys")
    assert dry.counts.requests == 1  # o-5 alone
    assert sources(shop) == {"o-1": 1, "o-2": 1}  # o-5 was not sent: not remembered


def test_a_crash_after_sending_a_changed_order_never_skips_its_old_rows(shop, emu,
                                                                         monkeypatch) -> None:
    """o-1 is delivered (A), its rows change and the new event is delivered (B), and
    the run dies before it can remember B. If the rows then go back to A, the next
    run must not skip o-1 as "A, delivered": Meta holds B."""
    from connector import incremental

    shop.run()
    changed = [dict(r) for r in ROWS]
    changed[0]["quantity"] = 5
    shop.write_rows(changed)

    def crash(self, run_id):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(incremental.Incremental, "settle", crash)
        with pytest.raises(Exception, match="interrupted"):
            shop.run()
    a, b = deliveries(shop, "o-1")
    assert "o-1" not in sources(shop)  # forgotten before B was sent

    shop.write_rows(ROWS)  # back to A
    back = shop.run()
    assert counts(back)["delivered"] == 1
    assert deliveries(shop, "o-1") == [a, b, a]
