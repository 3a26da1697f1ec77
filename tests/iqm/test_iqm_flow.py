"""From warehouse rows to IQM, the way the core drives a destination: shape in DuckDB,
group the valid events by route into batches, open, deliver."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from connector import Batch
from connector.engines.warehouse import Engine, Warehouse, WarehouseWriter


def run(tmp_path, dest, table: pa.Table, http) -> dict[str | None, object]:
    warehouse = Warehouse("duckdb", tmp_path / "wh.duckdb")
    with WarehouseWriter(warehouse) as writer:
        writer.replace("t", table, where={})
    with Engine(warehouse, temp_dir=tmp_path / "spill") as engine:
        query = "SELECT * FROM t"
        sql = dest.shape_sql(f"({query})", engine.describe(query))
        rows = engine.rows(f"SELECT event_key, route, payload FROM ({sql}) "
                           "WHERE reject_reason IS NULL ORDER BY event_key")
    routes: dict[str | None, list[tuple[str, str]]] = {}
    for key, route, payload in rows:
        routes.setdefault(route, []).append((key, payload))
    dest.open(http)
    return {route: dest.deliver(Batch(route, [k for k, _ in events], [p for _, p in events]))
            for route, events in routes.items()}


def test_assign_with_mirror_end_to_end(tmp_path, make, emu, http):
    make().deliver(Batch(None, ["1003"], ['{"campaign_id":1003}']))  # attached earlier
    dest = make(open=False, mirror=True)
    outcomes = run(tmp_path, dest, pa.table({"campaign_id": [1001, 1002, 2001, 1001]}), http)
    assert outcomes[None].rejected == {2: "campaign 2001 is not a draft campaign of this "
                                          "workspace: IQM assigns conversions only before a "
                                          "campaign runs (it may be running, ended or unknown)"}
    assert outcomes["mirror"].info["removed"] == 1
    assert emu.conversion_named("Offline orders")[0].campaigns == {1001, 1002}


def test_events_end_to_end(tmp_path, make, emu, http):
    at = dt.datetime(2026, 8, 31, 9, 30, tzinfo=dt.UTC)
    table = pa.table({"order_id": ["A", "A", "B", "C"], "timestamp": [at] * 4,
                      "price": [10.0, 5.0, 3.333, -1.0], "quantity": [1, 2, 3, 1]})
    dest = make(mode="events", open=False)
    outcomes = run(tmp_path, dest, table, http)
    assert outcomes[None].info["pixels_fired"] == 2  # C is rejected by the SQL
    assert sorted(hit["cv"] for hit in emu.pixel_hits) == ["10.00", "20.00"]
