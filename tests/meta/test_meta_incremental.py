"""Incremental runs of a Meta job: the orders whose rows did not change since their
events were delivered are not shaped again (connector.run.incremental), and a run that
skips them ends exactly as one that shapes everything."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connector.kit.emulator import Fault
from connector.run import incremental
from plugins.meta.destination import MetaDestination
from tests.meta.conftest import NOW, MetaProject, row, settings_for

ROWS = [
    row("o-1", product_id="a", quantity=2, price=5.0),
    row("o-1", product_id="b", quantity=1, price=3.0),
    row("o-2", email="b@example.com"),
    row("o-3", email="c@example.com"),
    row("o-3", product_id="back", quantity=-1),          # a returned line item, every run
    row("o-4", email=None, phone=None),                  # no contact: rejected every run
]


def counts(summary) -> dict[str, int]:
    c = summary.counts
    return {"rows_read": c.rows_read, "events": c.events, "unchanged": c.unchanged,
            "delivered": c.delivered, "rejected": c.rejected, "failed": c.failed,
            "line_items": c.line_items}


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


def test_a_rerun_with_nothing_changed_shapes_nothing_and_reports_the_rejects_again(shop,
                                                                                  emu) -> None:
    first = shop.run()
    assert counts(first) == {"rows_read": 6, "events": 4, "unchanged": 0, "delivered": 3,
                             "rejected": 1, "failed": 0, "line_items": 1}
    # Every order is settled: delivered, or rejected for a reason the clock cannot change
    # (a returned line, no contact), which is remembered with the order.
    assert sources(shop) == {"o-1": 1, "o-2": 1, "o-3": 2, "o-4": 1}
    sent = len(emu.snapshot()["requests"])

    again = shop.run()
    assert skipped_note(again) == ("4 keys (5 events) not shaped: their rows did not change "
                                   "since their events were settled")
    # The same counts as a run that shapes everything: skipped events are unchanged,
    # or rejected again with their reasons.
    assert counts(again) == {"rows_read": 6, "events": 4, "unchanged": 3, "delivered": 0,
                             "rejected": 1, "failed": 0, "line_items": 1}
    assert again.counts.reasons == first.counts.reasons
    assert len(emu.snapshot()["requests"]) == sent
    assert sources(shop) == {"o-1": 1, "o-2": 1, "o-3": 2, "o-4": 1}
    assert [(r["event_key"], r["reason"]) for r in shop.rejects() if r["run_id"] == again.run_id
            ] == [(r["event_key"], r["reason"]) for r in shop.rejects()
                  if r["run_id"] == first.run_id]


def test_an_order_rejected_by_the_clock_is_shaped_again_and_sent_when_its_time_comes(
        shop, emu, _clock) -> None:
    ahead = (NOW + dt.timedelta(minutes=30)).replace(tzinfo=None)
    shop.write_rows(ROWS + [row("o-5", timestamp=ahead)])
    first = shop.run()
    assert first.counts.reasons.get("event_time is in the future") == 1, first.counts.reasons
    assert "o-5" not in sources(shop)  # "in the future" is reject_timed
    _clock.now += 3600  # Meta's clock too
    later = shop.run(now=NOW + dt.timedelta(hours=1))
    assert skipped_note(later).startswith("4 keys")
    assert counts(later)["delivered"] == 1 and deliveries(shop, "o-5")
    assert "o-5" in sources(shop)


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
    assert skipped_note(again).startswith("3 keys (4 events)")  # o-2, o-3, o-4
    assert counts(again)["delivered"] == 1
    first, second = deliveries(shop, "o-1")
    assert first != second and len(deliveries(shop, "o-2")) == 1
    assert sources(shop) == {"o-1": 1, "o-2": 1, "o-3": 2, "o-4": 1}


def test_new_and_deleted_orders(shop, emu) -> None:
    shop.run()
    shop.write_rows([r for r in ROWS if r["order_id"] != "o-2"] + [row("o-5")])
    again = shop.run()
    assert skipped_note(again).startswith("3 keys (4 events)")  # o-1, o-3, o-4
    assert counts(again)["delivered"] == 1  # o-5
    assert sources(shop) == {"o-1": 1, "o-3": 2, "o-4": 1, "o-5": 1}  # o-2 is gone



def shaped_rows(monkeypatch) -> list[list[tuple]]:
    """Per run, the rows :meth:`Incremental.rows` gives the shaping (order id, product)."""
    seen: list[list[tuple]] = []
    original = incremental.Incremental.rows

    def rows(self) -> str:
        relation = original(self)
        seen.append(sorted(self.engine.rows(
            f"SELECT order_id, product_id FROM {relation}"),
            key=lambda r: (r[0] or "", r[1] or "")))
        return relation

    monkeypatch.setattr(incremental.Incremental, "rows", rows)
    return seen


def test_only_the_changed_orders_and_rows_without_an_order_id_are_read_again(
        meta_project: MetaProject, emu, monkeypatch) -> None:
    rows = ROWS + [row(None, product_id="lost"), row("  ", product_id="blank")]
    meta_project.write_rows(rows)
    meta_project.write_job()
    first = meta_project.run()
    seen = shaped_rows(monkeypatch)
    changed = [dict(r) for r in rows]
    changed[2]["price"] = 4.0  # o-2
    meta_project.write_rows(changed)
    again = meta_project.run()
    # Rows without an order id are never skipped: their rejects are made again.
    assert seen[-1] == [(None, "lost"), ("  ", "blank"), ("o-2", "sku-1")]
    assert again.counts.reasons == first.counts.reasons
    assert counts(again)["delivered"] == 1


def test_with_no_order_left_to_shape_the_rows_are_not_read_again(shop, emu,
                                                                 monkeypatch) -> None:
    shop.run()
    seen = shaped_rows(monkeypatch)
    again = shop.run()
    assert seen == [[]]
    assert counts(again) == {"rows_read": 6, "events": 4, "unchanged": 3, "delivered": 0,
                             "rejected": 1, "failed": 0, "line_items": 1}

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
    assert skipped_note(shop.run()).startswith("4 keys")


def test_a_full_run_resends_everything_and_remembers_it(shop, emu) -> None:
    shop.run()
    full = shop.run(full=True)
    assert skipped_note(full) is None
    assert counts(full)["delivered"] == 3
    assert sources(shop) == {"o-1": 1, "o-2": 1, "o-3": 2, "o-4": 1}


def test_orders_whose_delivery_failed_are_not_remembered(shop, emu) -> None:
    emu.inject(Fault(503, {"error": {"message": "down", "code": 2}}, times=10_000))
    failed = shop.run()
    assert failed.status == "failed" and failed.counts.delivered == 0
    assert sources(shop) == {"o-4": 1}  # only the order that had nothing to send
    emu.clear_faults()
    retry = shop.run()
    assert skipped_note(retry).startswith("1 keys (1 events)")  # o-4
    assert counts(retry)["delivered"] == 3


def test_a_dry_run_skips_but_remembers_nothing(shop, emu) -> None:
    dry = shop.run(dry_run=True)
    assert skipped_note(dry) is None and counts(dry)["unchanged"] == 0
    assert sources(shop) == {}
    shop.run()
    shop.write_rows(ROWS + [row("o-5")])
    dry = shop.run(dry_run=True)
    assert skipped_note(dry).startswith("4 keys")
    assert dry.counts.requests == 1  # o-5 alone
    assert sources(shop) == {"o-1": 1, "o-2": 1, "o-3": 2, "o-4": 1}  # not o-5: unsent


def test_a_crash_after_sending_a_changed_order_never_skips_its_old_rows(shop, emu,
                                                                         monkeypatch) -> None:
    """o-1 is delivered (A), its rows change and the new event is delivered (B), and
    the run dies before it can remember B. If the rows then go back to A, the next
    run must not skip o-1 as "A, delivered": Meta holds B."""
    from connector.run import incremental

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


def test_running_out_of_memory_while_remembering_only_costs_the_next_runs_skip(
        shop, emu, monkeypatch) -> None:
    """Settling comes after every outcome is in the ledger: if DuckDB runs out of memory
    there, the run still succeeds (with a note that says what to raise), and the next
    run shapes everything again but sends nothing twice."""
    import duckdb

    from connector.run import incremental

    def out_of_memory(self, run_id):
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block")

    with monkeypatch.context() as m:
        m.setattr(incremental.Incremental, "settle", out_of_memory)
        first = shop.run()
    assert first.status == "succeeded" and counts(first)["delivered"] == 3
    assert any("[engine] memory_limit" in n for n in first.notes)
    assert sources(shop) == {}
    sent = len(emu.snapshot()["requests"])
    again = shop.run()
    assert skipped_note(again) is None  # shaped again ...
    assert counts(again) == {"rows_read": 6, "events": 4, "unchanged": 3, "delivered": 0,
                             "rejected": 1, "failed": 0,
                             "line_items": 1}  # ... and nothing sent twice
    assert len(emu.snapshot()["requests"]) == sent
    assert sources(shop) == {"o-1": 1, "o-2": 1, "o-3": 2, "o-4": 1}


def scratch_files(project: MetaProject) -> list[str]:
    return sorted(p.name for p in project.project.spill.glob("*.parquet"))


def test_the_runs_notes_on_its_events_leave_no_file_behind(shop, emu, monkeypatch) -> None:
    """The keys' fingerprints and what a run notes of each event (for settle) go to
    scratch Parquet files in the spill folder, removed when the run ends, however it
    ends."""
    from connector.run import incremental

    seen: list[list[str]] = []
    settle = incremental.Incremental.settle

    def spy(self, run_id):
        seen.append(scratch_files(shop))
        return settle(self, run_id)

    monkeypatch.setattr(incremental.Incremental, "settle", spy)
    shop.run()
    assert seen == [[f"{shop.job}.events.parquet", f"{shop.job}.keys.parquet"]]
    assert scratch_files(shop) == []
    assert sources(shop) == {"o-1": 1, "o-2": 1, "o-3": 2, "o-4": 1}

    def crash(self, run_id):
        raise KeyboardInterrupt

    shop.write_rows(ROWS + [row("o-5")])
    monkeypatch.setattr(incremental.Incremental, "settle", crash)
    with pytest.raises(Exception, match="interrupted"):
        shop.run()
    assert scratch_files(shop) == []
