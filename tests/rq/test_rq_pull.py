"""``offramp pull rq``: companies, per-day windows, every format end to end, window
replacement in DuckDB and Parquet warehouses, rejected rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from connector.engines.warehouse import Engine, Warehouse
from connector.kit.errors import ConfigError
from plugins.rq.fixtures import SEED_ROW, rows_for

D1, D2, D3 = dt.date(2024, 5, 1), dt.date(2024, 5, 2), dt.date(2024, 5, 3)


def count(wh: Warehouse, where: str = "TRUE") -> int:
    with Engine(wh) as engine:
        return engine.rows(f"SELECT count(*) FROM rq_marketing_report WHERE {where}")[0][0]


def test_without_company_the_partner_relationships_are_listed(rq) -> None:
    summary, rec = rq.record(rq.source())
    assert [c.path for c in rq.emu.calls][0] == "/partner/relationships"
    companies = sorted({where["company_id"] for _, _, where in rec.calls})
    assert companies == [rq.KENTEL, rq.PRAIRIE, rq.LAKESHORE]
    assert summary.windows == 3
    assert "3 companies listed by the partner relationships" in summary.notes


def test_companies_given_skip_the_listing(rq) -> None:
    summary, rec = rq.record(rq.source(), company=(rq.PRAIRIE,))
    assert all(c.path.endswith("/MarketingReport") for c in rq.emu.calls)
    assert [where["company_id"] for _, _, where in rec.calls] == [rq.PRAIRIE]
    summary, rec = rq.record(rq.source(companies=[rq.LAKESHORE]))
    assert [where["company_id"] for _, _, where in rec.calls] == [rq.LAKESHORE]


def test_one_request_per_company_and_day_with_day_windows(rq) -> None:
    summary, rec = rq.record(rq.source(), D1, D3, company=(rq.KENTEL, rq.LAKESHORE))
    asked = sorted((c.arg("CompanyID"), c.arg("StartDate"), c.arg("StopDate"))
                   for c in rq.report_calls())
    assert asked == sorted((str(company), f"{day}T00:00:00",
                            f"{day + dt.timedelta(days=1)}T00:00:00")
                           for company in (rq.KENTEL, rq.LAKESHORE) for day in (D1, D2, D3))
    assert summary.windows == 6
    for table, data, where in rec.calls:
        assert table == "rq_marketing_report"
        day = where["window_start"].date()
        assert data.num_rows == len(rq.emu.rows_for(where["company_id"], day))
        assert set(data.column("window_start").to_pylist()) <= {where["window_start"]}
        assert set(data.column("window_stop").to_pylist()) <= {
            where["window_start"] + dt.timedelta(days=1)}
        assert set(data.column("pulled_at").to_pylist()) <= {rq.NOW}
    assert summary.rows["rq_marketing_report"] == sum(d.num_rows for _, d, _ in rec.calls)


@pytest.mark.parametrize("fmt", ["jsondatatable", "xml", "xmldatatable", "csv"])
def test_every_format_pulls_the_same_table_as_json(rq, fmt: str) -> None:
    _, json_rec = rq.record(rq.source(), D1, D3)
    summary, rec = rq.record(rq.source(format=fmt), D1, D3)
    assert rec.table().equals(json_rec.table())
    assert rec.table().num_rows > 20
    assert summary.rejected == []
    asked = {c.arg("Response") for c in rq.report_calls()}
    assert asked == {"Json", {"jsondatatable": "JsonDataTable", "xml": "Xml",
                              "xmldatatable": "XmlDataTable", "csv": "Csv"}[fmt]}


def test_the_format_option_overrides_the_setting(rq) -> None:
    rq.record(rq.source(format="xml"), company=(rq.KENTEL,), format="csv")
    assert {c.arg("Response") for c in rq.report_calls()} == {"Csv"}


def test_csv_repairs_the_seed_row_and_rejects_the_ambiguous_one(rq) -> None:
    ambiguous = {**SEED_ROW, "Category": "Accessories", "ProductLibraryName": "Galaxy S24, 256GB"}
    rq.emu.set_rows(rq.KENTEL, D1, [SEED_ROW, ambiguous, SEED_ROW])
    summary, rec = rq.record(rq.source(format="csv"), company=(rq.KENTEL,))
    table = rec.table()
    assert table.num_rows == 2
    assert table.column("Category").to_pylist() == ["Activations,Smart Phones"] * 2
    assert table.column("ProductLibraryID").to_pylist() == ["M5592-E12435"] * 2
    assert table.column("UnitPrice").to_pylist() == [Decimal("250.0000")] * 2
    (where, reason), = summary.rejected
    assert where == "company 14682, window 2024-05-01, CSV line 3"
    assert "ProductLibraryCanonicalName or ProductLibraryName" in reason
    assert "Galaxy" not in reason and "johntest" not in reason
    assert "company 14682: repaired 2 CSV row(s) whose Category held an unquoted comma" in (
        summary.notes)
    # The same data as JSON has nothing to repair or reject.
    summary, rec = rq.record(rq.source(format="json"), company=(rq.KENTEL,))
    assert rec.table().num_rows == 3 and summary.rejected == []


def test_rows_with_values_that_do_not_fit_are_rejected_with_their_place(rq) -> None:
    rq.emu.set_rows(rq.KENTEL, D1, [SEED_ROW, {**SEED_ROW, "Quantity": "lots"}])
    summary, rec = rq.record(rq.source(format="xml"), company=(rq.KENTEL,))
    assert rec.table().num_rows == 1
    assert summary.rejected == [("company 14682, window 2024-05-01, record 2",
                                 "Quantity is not a number")]


def test_repull_replaces_windows_in_the_warehouse(rq, warehouse: Warehouse) -> None:
    source = rq.source()
    rq.write(source, warehouse, D1, D3, company=(rq.KENTEL, rq.PRAIRIE))
    first = count(warehouse)
    assert first == sum(len(rq.emu.rows_for(c, d)) for c in (rq.KENTEL, rq.PRAIRIE)
                        for d in (D1, D2, D3))
    rq.write(source, warehouse, D1, D3, company=(rq.KENTEL, rq.PRAIRIE))
    rq.write(source, warehouse, D2, D2, company=(rq.KENTEL,))
    assert count(warehouse) == first  # never duplicated

    # The API's answer for one window changes: that window, and only it, follows.
    rq.emu.set_rows(rq.KENTEL, D2, [SEED_ROW])
    later = rq.source(now=rq.NOW + dt.timedelta(days=1))
    rq.write(later, warehouse, D2, D2, company=(rq.KENTEL,))
    kentel_d2 = "company_id = 14682 AND window_start = TIMESTAMP '2024-05-02'"
    assert count(warehouse, kentel_d2) == 1
    assert count(warehouse) == first - _old_d2(rq) + 1
    with Engine(warehouse) as engine:
        (pulled,), = engine.rows(f"SELECT DISTINCT pulled_at FROM rq_marketing_report "
                                 f"WHERE {kentel_d2}")
    assert pulled == rq.NOW + dt.timedelta(days=1)

    # An empty day clears what an earlier pull stored for it.
    rq.emu.set_rows(rq.KENTEL, D2, [])
    rq.write(later, warehouse, D2, D2, company=(rq.KENTEL,))
    assert count(warehouse, kentel_d2) == 0
    assert count(warehouse, "window_start <> TIMESTAMP '2024-05-02' OR company_id <> 14682") == (
        first - _old_d2(rq))


def _old_d2(rq) -> int:
    """Rows the demo data has for KENTEL on D2 (before set_rows overrides it)."""
    return len(rows_for(rq.KENTEL, D2))


def test_both_warehouses_hold_the_same_typed_table(rq, tmp_path) -> None:
    duck = Warehouse("duckdb", tmp_path / "w.duckdb")
    parquet = Warehouse("parquet", tmp_path / "exports")
    for wh in (duck, parquet):
        rq.write(rq.source(format="csv"), wh, D1, D3)
    query = ("SELECT * EXCLUDE (pulled_at) FROM rq_marketing_report "
             "ORDER BY company_id, window_start, Email, ProductLibraryID, UnitPrice, Quantity")
    with Engine(duck) as a, Engine(parquet) as b:
        assert a.schema()["rq_marketing_report"] == b.schema()["rq_marketing_report"]
        types = a.schema()["rq_marketing_report"]
        assert (types["UnitPrice"], types["Quantity"], types["window_start"]) == (
            "DECIMAL(19,4)", "INTEGER", "TIMESTAMP")
        assert a.rows(query) == b.rows(query)
        assert len(a.rows(query)) > 20


def test_settings_and_options_are_checked(rq) -> None:
    with pytest.raises(ConfigError, match="before --from"):
        rq.record(rq.source(), D2, D1)
    with pytest.raises(ConfigError, match="unknown format"):
        rq.record(rq.source(), format="excel")
    with pytest.raises(ValueError, match="max_in_flight"):
        rq.source(max_in_flight=9)
    with pytest.raises(ValueError, match="extra"):
        rq.source(tokne_env="X")
