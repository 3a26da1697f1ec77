"""End to end: a job over a DuckDB warehouse, run by the core pipeline into the emulator."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from connector.project import Project
from connector.run import pipeline
from plugins.microsoft.emulator import ACCOUNT_ID, CUSTOMER_ID

JOB = """/* offramp
destination = "microsoft"
[settings]
customer_id = "{customer}"
account_id = "{account}"
base_url = "{url}"
conversion_name = "Store Sale"
currency = "USD"
*/
SELECT sold_at AS timestamp, msclkid AS microsoft_click_id, email, order_id, price, quantity,
       goal AS conversion_name
FROM sales
"""

ROWS = """
INSERT INTO sales VALUES
 ('o1', TIMESTAMP '2026-10-01 09:00:00', 'clk1', NULL, 20.00, 2, NULL),
 ('o1', TIMESTAMP '2026-10-01 09:00:00', 'clk1', NULL, 5.50, 1, NULL),
 ('o2', TIMESTAMP '2026-10-01 10:00:00', NULL, 'Jane@Example.com', 10.00, 1, NULL),
 ('o3', TIMESTAMP '2026-06-01 10:00:00', 'clk3', NULL, 10.00, 1, NULL),
 ('o4', TIMESTAMP '2026-10-01 11:00:00', 'clk4', NULL, 10.00, 1, 'Unknown Goal'),
 ('o5', TIMESTAMP '2026-10-01 12:00:00', NULL, NULL, 10.00, 1, NULL)
"""


@pytest.fixture
def project(tmp_path: Path, emulator, creds) -> Project:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute("CREATE TABLE sales (order_id VARCHAR, sold_at TIMESTAMP, msclkid VARCHAR, "
                    "email VARCHAR, price DECIMAL(10,2), quantity INTEGER, goal VARCHAR)")
        con.execute(ROWS)
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "ms_sales.sql").write_text(
        JOB.format(customer=CUSTOMER_ID, account=ACCOUNT_ID, url=emulator.url))
    return Project(tmp_path)


def test_a_run_delivers_rejects_with_reasons_and_a_rerun_sends_nothing(project, emulator, clock):
    waits: list[float] = []
    summary = pipeline.run(project, "ms_sales", now=clock.now, sleep=waits.append)
    assert summary.status == "succeeded", summary.error
    k = summary.counts
    assert (k.rows_read, k.events, k.delivered, k.rejected, k.requests) == (6, 5, 2, 3, 1)
    reasons = list(k.reasons)
    assert any(r.startswith("5606 OfflineConversionNameInvalid") for r in reasons)
    assert any("more than 90 days before the run" in r for r in reasons)
    assert any(r.startswith("nothing to match on") for r in reasons)
    accepted = {u.raw.get("MicrosoftClickId") or "email": u for u in emulator.accepted()}
    assert accepted["clk1"].value == 45.5 and accepted["clk1"].currency == "USD"
    assert accepted["email"].email_hash == hashlib.sha256(b"jane@example.com").hexdigest()
    assert waits == []

    again = pipeline.run(project, "ms_sales", now=clock.now, sleep=waits.append)
    assert again.status == "succeeded"
    assert (again.counts.delivered, again.counts.requests, again.counts.unchanged) == (0, 0, 3)
    assert len(emulator.accepted()) == 2


def test_throttling_is_waited_out_through_the_core(project, emulator, clock):
    waits: list[float] = []
    emulator.throttle(times=2)
    summary = pipeline.run(project, "ms_sales", now=clock.now, sleep=waits.append)
    assert summary.status == "succeeded" and summary.counts.delivered == 2
    assert len(waits) == 2 and all(w >= 60 for w in waits)


def test_bad_credentials_fail_the_run_and_leave_events_pending(project, emulator, clock,
                                                               monkeypatch):
    monkeypatch.setenv("MSADS_DEVELOPER_TOKEN", "WRONG")
    summary = pipeline.run(project, "ms_sales", now=clock.now, sleep=lambda s: None)
    assert summary.status == "failed"
    assert "refused the credentials" in summary.error and "MSADS_DEVELOPER_TOKEN" in summary.error
    assert summary.counts.delivered == 0 and emulator.accepted() == []
    monkeypatch.setenv("MSADS_DEVELOPER_TOKEN", "BBD37VB98")
    retry = pipeline.run(project, "ms_sales", now=clock.now, sleep=lambda s: None)
    assert retry.status == "succeeded" and retry.counts.delivered == 2


def test_preview_and_validate(project, clock):
    prep = pipeline.validate(project, "ms_sales")
    assert set(prep.columns) >= {"timestamp", "microsoft_click_id", "email"}
    rows, events = pipeline.preview(project, "ms_sales", now=clock.now)
    assert rows.num_rows == 6 and events.num_rows == 5
    assert "jane@example.com" not in str(events.to_pylist()).lower()


def test_report_after_run_is_fetched_and_kept_in_the_state_file(project, emulator, clock):
    from connector.engines.warehouse import connect_state

    job = project.queries / "ms_sales.sql"
    job.write_text(job.read_text().replace(
        'currency = "USD"', 'currency = "USD"\nreport_after_run = true\ngoal_ids = ["4000123"]'))
    summary = pipeline.run(project, "ms_sales", now=clock.now, sleep=lambda s: None)
    assert summary.status == "succeeded", summary.error
    assert summary.notes and "goal 4000123" in summary.notes[-1], summary.notes
    con = connect_state(project.state_path("ms_sales"))
    try:
        rows = con.execute("SELECT job, goal_id, customer_id, success_count + unattributed_count "
                           "FROM state.microsoft_report_daily").fetchall()
    finally:
        con.close()
    assert rows and all(r[0] == "ms_sales" and r[1] == "4000123" and r[2] == CUSTOMER_ID
                        for r in rows)
    assert sum(r[3] for r in rows) >= 1
    # fetching again replaces the day's rows instead of adding to them
    again = pipeline.run(project, "ms_sales", now=clock.now, sleep=lambda s: None, full=True)
    assert again.status == "succeeded"
    con = connect_state(project.state_path("ms_sales"))
    try:
        assert con.execute("SELECT count(*) FROM state.microsoft_report_daily").fetchall()[0][0] \
            == len(rows)
    finally:
        con.close()


def test_click_time_errors_are_final_rejects(project, emulator, clock):
    """5616 at upload (the emulator's default reading): the event is rejected with the
    reason and what to check, and a re-run does not send it again."""
    emulator.known_clicks = {"clk1": clock.now}  # the click came after the 09:00 conversion
    summary = pipeline.run(project, "ms_sales", now=clock.now, sleep=[].append)
    assert summary.status == "succeeded" and summary.counts.delivered == 1
    [reason] = [r for r in summary.counts.reasons if r.startswith("5616")]
    assert reason.startswith("5616 ConversionTimeEarlierThanClickTime: The conversion time "
                             "must be later than the click time (Microsoft has this click")
    again = pipeline.run(project, "ms_sales", now=clock.now, sleep=[].append)
    assert (again.counts.requests, again.counts.delivered) == (0, 0)
    assert [u.click_id for u in emulator.accepted()] == [None]  # only o2, hash-only


def test_click_time_problems_read_in_the_report_instead(project, emulator, clock):
    """The other documented reading: accepted at upload, unattributed in the report."""
    emulator.click_checks = "report"
    emulator.known_clicks = {"clk1": clock.now}
    summary = pipeline.run(project, "ms_sales", now=clock.now, sleep=[].append)
    assert summary.counts.delivered == 2
    assert {u.click_id: u.reason for u in emulator.accepted()}["clk1"] == (
        "ClickTimestampAfterConversion")


def test_hash_only_conversions_under_both_readings(project, emulator, clock):
    """The current docs: MicrosoftClickId is optional with a hashed email or phone (the
    emulator's default, above). The 2024 page: it is required. Under that reading the
    hash-only conversion is a final per-item reject with 5603 and what to send."""
    emulator.require_click_id = True
    summary = pipeline.run(project, "ms_sales", now=clock.now, sleep=[].append)
    assert summary.counts.delivered == 1
    assert any(r.startswith("5603 OfflineConversionMicrosoftClickIdNullOrEmpty")
               and "send microsoft_click_id" in r for r in summary.counts.reasons)
    assert [u.click_id for u in emulator.accepted()] == ["clk1"]
