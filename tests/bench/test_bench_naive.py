"""The naive baseline makes the events offramp makes.

``bench/run.py`` compares the two on a sample of every benchmark run; these tests run
the same comparison on small data in the test suite, so that a rule changed in
``plugins/meta/shaping.py`` and not in ``bench/naive.py`` fails here, not in an
hour-long benchmark.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from bench import naive, verify
from bench.generate import generate, write_config
from bench.sink import Sink
from connector.project import Project
from connector.run import pipeline
from plugins.meta.settings import MetaSettings

NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)
DATASET = "123456789012345"


def test_naive_and_offramp_make_the_same_events(tmp_path: Path) -> None:
    generate(tmp_path, 3000, NOW)
    sample = verify.pick_sample(tmp_path, verify.order_bound(3000, 3000))
    with Sink() as sink:
        result = naive.run({"root": str(tmp_path), "now": NOW.timestamp(), "url": sink.url,
                            "token": "t", "order_bound": verify.order_bound(3000, 3000),
                            "sample": sample})
        assert sink.totals()["events"] == result["counts"]["delivered"] > 500
    shaped = verify.shaped_events(tmp_path, NOW, sample)
    compared = verify.compare(shaped, result["kept"])
    assert compared["problems"] == []
    assert compared["ok"] and compared["compared"] == len(shaped) > 900


def test_naive_counts_events_and_line_items_as_offramp_does(tmp_path: Path) -> None:
    """``bench/run.py`` checks that the two pipelines made and sent as many events: a
    returned line is a line item refused on its own in both, not an event."""
    generate(tmp_path, 3000, NOW)
    write_config(tmp_path, "duckdb")
    with Sink() as sink:
        result = naive.run({"root": str(tmp_path), "now": NOW.timestamp(), "url": sink.url,
                            "token": "t", "order_bound": verify.order_bound(3000, 3000),
                            "sample": []})
    counts = pipeline.run(Project(tmp_path), "bench", dry_run=True, now=NOW).counts
    assert counts.line_items > 0
    assert (result["counts"]["events"], result["counts"]["line_items"]) == (
        counts.events, counts.line_items)


def line(product: str, quantity: float, price: float, **more: object) -> dict[str, object]:
    return {"order_id": "D", "quantity": quantity, "price": price, "currency": "USD",
            "event_time": int(NOW.timestamp()) - 3600, "product_id": product, "brand": None,
            "category": None, "action_source": "physical_store", "event_name": "Purchase",
            "email": "d@x.io", "phone": None, "given_name": None, "surname": None,
            "birthdate": None, "gender": None, "city": None, "state": None, "postal": None,
            "country": None, "external_id": None, "client_user_agent": None, "fbc": None,
            "fbp": None, "madid": None, **more}


def test_naive_lists_contents_in_the_byte_order_of_their_json() -> None:
    shaper = naive.Shaper(MetaSettings(dataset_id=DATASET), NOW, first_send=True)
    payload, reason = shaper.order("D", [
        line("P9", 2, 7.0), line("P9", 12, 1.0), line("P10", 1, 99.99, category="Toys"),
        line("P9", 2, 3.0, brand="Z"), line("P1", 1, 2.0), line("é", 1, 1.0),
        line("z", 1, 1.0)])
    assert reason is None
    contents = json.loads(payload)["custom_data"]["contents"]
    assert [(c["id"], c["quantity"], c["item_price"]) for c in contents] == [
        ("P1", 1, 2.0), ("P10", 1, 99.99), ("P9", 12, 1.0), ("P9", 2, 3.0), ("P9", 2, 7.0),
        ("z", 1, 1.0), ("é", 1, 1.0)]


def test_naive_names_the_smallest_and_largest_of_mixed_currencies() -> None:
    shaper = naive.Shaper(MetaSettings(dataset_id=DATASET), NOW, first_send=True)
    _, reason = shaper.order("D", [line("P1", 1, 1.0, currency="USD"),
                                   line("P2", 1, 1.0, currency="EUR"),
                                   line("P3", 1, 1.0, currency="CAD")])
    assert reason == "mixed currencies in one order (CAD, USD)"
