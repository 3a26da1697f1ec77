"""shape_sql run in DuckDB the way the core runs it: campaign rows, order rows, and
the reasons rows are rejected."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from connector import RunContext, ValidationError
from connector.engines.warehouse import Engine, Warehouse, WarehouseWriter
from plugins.iqm import IqmDestination, IqmSettings
from plugins.iqm.shaping import MIRROR_KEY
from tests.iqm.iqm_support import NOW

UTC = dt.UTC


def shape(tmp_path: Path, table: pa.Table, query: str = "SELECT * FROM t",
          **settings: object) -> dict[str, tuple]:
    """event_key -> (route, payload, reject_reason) from the destination's SQL."""
    warehouse = Warehouse("duckdb", tmp_path / "wh.duckdb")
    with WarehouseWriter(warehouse) as writer:
        writer.replace("t", table, where={})
    values = {"mode": "assign", "conversion_name": "Orders", "workspace_host": "app.iqm.test",
              **settings}
    if values["mode"] == "events":
        values["allow_unattributed_pixel_fires"] = True
    dest = IqmDestination(IqmSettings(**values), RunContext(job="j", now=NOW))
    with Engine(warehouse, temp_dir=tmp_path / "spill") as engine:
        sql = dest.shape_sql(f"({query})", engine.describe(query))
        rows = engine.rows(f"SELECT *, md5(payload) AS fingerprint FROM ({sql})")
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)), "event keys must be unique"
    return {r[0]: r[1:4] for r in rows}


def test_campaign_rows_become_one_event_per_distinct_id(tmp_path):
    table = pa.table({"campaign_id": ["1001", " 1002 ", "1001", "abc", None, "0", "-5", "1e3",
                                      "ann@example.com", "650-555-1212"]})
    out = shape(tmp_path, table)
    assert out["1001"] == (None, '{"campaign_id":1001}', None)
    assert out["1002"] == (None, '{"campaign_id":1002}', None)
    assert out["invalid:abc"][2] == "campaign_id abc is not a whole number (an IQM campaign id)"
    assert out["invalid:(null)"][2] == "campaign_id is missing"
    assert out["invalid:0"][2] == "campaign_id 0 must be a positive number"
    assert out["invalid:-5"][2] == "campaign_id -5 must be a positive number"
    assert out["invalid:1e3"][1] is None
    for key in ("invalid:ann@example.com", "invalid:650-555-1212"):  # never in a reason
        assert out[key][2] == "campaign_id (value not shown) is not a whole number (an IQM " \
            "campaign id)"
    assert MIRROR_KEY not in out


def test_numeric_campaign_ids(tmp_path):
    out = shape(tmp_path, pa.table({"campaign_id": pa.array([7.0, 8.5, 9.0])}))
    assert set(out) == {"7", "9", "invalid:8.5"}
    out = shape(tmp_path / "b", pa.table({"campaign_id": pa.array([3, 3, 4], pa.int64())}))
    assert set(out) == {"3", "4"}


def test_mirror_adds_one_routed_event_with_every_valid_id(tmp_path):
    out = shape(tmp_path, pa.table({"campaign_id": [3, 1, 2, 2]}), mirror=True)
    route, payload, reason = out[MIRROR_KEY]
    assert route == "mirror" and reason is None
    assert json.loads(payload) == {"campaign_ids": [1, 2, 3]}


def test_mirror_refuses_an_empty_query(tmp_path):
    out = shape(tmp_path, pa.table({"campaign_id": ["x"]}), mirror=True)
    route, payload, reason = out[MIRROR_KEY]
    assert payload is None and "refuses to remove the conversion from every campaign" in reason


def ts(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_order_lines_are_summed_per_order(tmp_path):
    table = pa.table({
        "order_id": ["A", "A", "B", "C"],
        "timestamp": [ts(2026, 8, 30), ts(2026, 8, 30, 1), ts(2026, 8, 31), ts(2026, 9, 1)],
        "price": [10.0, 2.5, 7.0, 4.0],
        "quantity": [2, 1, 1, 3],
    })
    out = shape(tmp_path, table, mode="events")
    assert json.loads(out["A"][1]) == {"order_id": "A", "cv": "22.50"}
    assert json.loads(out["B"][1]) == {"order_id": "B", "cv": "7.00"}
    assert json.loads(out["C"][1]) == {"order_id": "C", "cv": "12.00"}
    assert all(route is None and reason is None for route, _, reason in out.values())


def test_value_wins_over_price_and_epoch_seconds_work(tmp_path):
    epoch = int(ts(2026, 8, 31).timestamp())
    table = pa.table({"order_id": [1, 2], "timestamp": [epoch, epoch],
                      "value": [None, 5.555], "price": [3.0, 100.0]})
    out = shape(tmp_path, table, mode="events")
    assert json.loads(out["1"][1])["cv"] == "3.00"
    assert json.loads(out["2"][1])["cv"] == "5.56"


@pytest.mark.parametrize(("row", "reason"), [
    ({"order_id": None}, "order_id is missing"),
    ({"order_id": "  "}, "order_id is missing"),
    ({"timestamp": None}, "timestamp is missing or not a valid time"),
    ({"timestamp": ts(2026, 9, 2)}, "timestamp 2026-09-02T00:00:00Z is in the future"),
    ({"timestamp": ts(2026, 7, 1)}, "the order is older than 30 days (max_age_days)"),
    ({"value": None}, "a line of this order has no value"),
    ({"value": 0.0}, "value must be positive (got 0.00)"),
    ({"value": -3.0}, "value must be positive (got -3.00)"),
    ({"value": 0.004}, "value must be positive (got 0.00)"),
    ({"currency": "EUR"}, "currency EUR is not USD (the currency setting)"),
    ({"currency": "dollars"}, "currency (value not shown) is not an ISO 4217 code"),
    ({"currency": "ann@example.com"}, "currency (value not shown) is not an ISO 4217 code"),
    ({"currency": "XYZ"}, "currency XYZ is not an ISO 4217 code"),
])
def test_order_rejections(tmp_path, row, reason):
    base = {"order_id": "O-1", "timestamp": ts(2026, 8, 31), "value": 10.0, "currency": "usd"}
    base.update(row)
    table = pa.table({k: pa.array([v], type=_type(k)) for k, v in base.items()})
    out = shape(tmp_path, table, mode="events")
    ((key, (route, payload, why)),) = out.items()
    assert why.startswith(reason), why
    # the payload is kept whenever it can be built (see Destination.shape_sql)
    buildable = (base["order_id"] or "").strip() and base["value"] is not None
    assert (payload is not None) == bool(buildable)
    if payload is not None:
        assert json.loads(payload)["order_id"] == "O-1"


def _type(column: str) -> pa.DataType:
    return {"order_id": pa.string(), "timestamp": pa.timestamp("us", tz="UTC"),
            "value": pa.float64(), "currency": pa.string()}[column]


def test_mixed_currencies_in_one_order(tmp_path):
    table = pa.table({"order_id": ["A", "A"], "timestamp": [ts(2026, 8, 31)] * 2,
                      "value": [1.0, 2.0], "currency": ["USD", "EUR"]})
    out = shape(tmp_path, table, mode="events", currency="usd")
    assert out["A"][2] == "the order mixes currencies (EUR, USD)"


def test_other_currency_setting(tmp_path):
    table = pa.table({"order_id": ["A"], "timestamp": [ts(2026, 8, 31)], "value": [1.0],
                      "currency": [None]})
    out = shape(tmp_path, table, mode="events", currency="EUR")
    assert out["A"][2] is None


def test_naive_timestamps_and_text_times_are_utc(tmp_path):
    table = pa.table({"order_id": ["A", "B"],
                      "timestamp": ["2026-08-31T10:00:00Z", "not a time"], "value": [1.0, 1.0]})
    out = shape(tmp_path, table, mode="events")
    assert out["A"][2] is None
    assert out["B"][2] == "timestamp is missing or not a valid time"


@pytest.mark.parametrize(("mode", "columns", "message"), [
    ("assign", {"order_id": "VARCHAR"}, "needs a `campaign_id` column"),
    ("events", {"campaign_id": "BIGINT"}, "needs an `order_id` column"),
    ("events", {"order_id": "VARCHAR", "value": "DOUBLE"}, "needs a `timestamp` column"),
    ("events", {"order_id": "VARCHAR", "timestamp": "TIMESTAMP"}, "needs a `value` column"),
])
def test_missing_columns_for_the_mode(mode, columns, message):
    opt_in = {"allow_unattributed_pixel_fires": mode == "events"}
    dest = IqmDestination(IqmSettings(mode=mode, conversion_name="Orders", workspace_host="h",
                                      **opt_in), RunContext(job="j", now=NOW))
    with pytest.raises(ValidationError, match=message):
        dest.shape_sql("(SELECT 1)", columns)
