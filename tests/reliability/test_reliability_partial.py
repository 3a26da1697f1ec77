"""A request Meta refuses whole for one bad event is split until the bad events
stand alone: they are rejected with Meta's reason, the rest is delivered; the
rejects are listed and exported by ``offramp rejects``."""

from __future__ import annotations

import csv
import io
import json

import pyarrow as pa
from reliability_kit import GatedMeta, Shop, cli, orders_table

POISONED = {"o00017": "custom_data.value is not valid for this event.",
            "o02500": "custom_data.contents is not valid for this event."}
META_REASON = "Meta error 100: {}"


def test_poisoned_events_are_isolated_and_the_rest_delivered(shop: Shop, emu: GatedMeta,
                                                            tmp_path) -> None:  # type: ignore[no-untyped-def]
    table = orders_table(range(3000), shop.now)
    bad = orders_table(range(3000, 3002), shop.now)
    bad = bad.set_column(1, "email", pa.array([None, None], pa.string()))  # no contact
    shop.write_orders(table=pa.concat_tables([table, bad]))
    shop.write_job()
    for order_id, message in POISONED.items():
        emu.poison(order_id, message=message)

    summary = shop.run()
    assert summary.status == "succeeded"
    assert (summary.counts.delivered, summary.counts.rejected) == (2998, 4)
    good = {f"o{i:05d}" for i in range(3000)} - set(POISONED)
    assert sorted(emu.accepted_ids()) == sorted(good) and emu.duplicates == 0
    assert len(emu.arrived) <= 3 + 2 * 2 * 10  # halving 1,000 events: about 20 requests each
    ledger = shop.ledger()
    assert {k for k, s in ledger.items() if s == "rejected"} == set(POISONED)
    assert {k for k, s in ledger.items() if s == "delivered"} == good

    again = shop.run()  # nothing changed: nothing is sent, the refused events included
    assert again.counts.unchanged == 3000 and again.counts.delivered == 0
    assert len(emu.arrived) == len(emu.sent())  # no new request
    assert again.counts.rejected == 2  # the two without contact, refused again before sending

    contact = "no usable email or phone (missing or invalid after normalization)"
    expected = {"o03000": ("shape", contact), "o03001": ("shape", contact)}
    expected.update({k: ("destination", META_REASON.format(m)) for k, m in POISONED.items()})

    listed = cli(shop, "rejects", "sync", "--run", "1", "--format", "json")
    assert listed.exit_code == 0, listed.output
    records = json.loads(listed.output)
    assert {r["event_key"]: (r["stage"], r["reason"]) for r in records} == expected
    assert {r["run_id"] for r in records} == {1}
    assert set(records[0]) == {"run_id", "event_key", "route", "stage", "reason", "recorded_at"}
    assert {r["route"] for r in records if r["stage"] == "destination"} == {"1234567890"}

    exported = cli(shop, "rejects", "sync", "--run", "1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    assert exported.output.splitlines()[0] == "run_id,event_key,route,stage,reason,recorded_at"
    assert {r["event_key"]: (r["stage"], r["reason"]) for r in rows} == expected

    target = tmp_path / "rejects.csv"
    assert cli(shop, "rejects", "sync", "--run", "1", "--format", "csv", "-o",
               str(target)).exit_code == 0
    assert target.read_text(encoding="utf-8") == exported.output

    latest = json.loads(cli(shop, "rejects", "sync", "--format", "json").output)
    assert {(r["run_id"], r["event_key"]) for r in latest} == {(2, "o03000"), (2, "o03001")}

    shown = cli(shop, "rejects", "sync", "--run", "1")
    assert "run 1 of sync: 4 rejected" in shown.output
    assert all(META_REASON.format(m) in shown.output for m in POISONED.values())

