"""Request diagnostics: accepted requests' ids kept in ``google_requests``, their status
polled from ``requestStatus:retrieve`` after the run and by ``offramp report google``,
and shown by ``offramp runs`` and the Python API."""

from __future__ import annotations

from click.testing import CliRunner

from connector import open_project
from connector.cli.app import cli
from plugins.google.status import apply, poll
from tests.google.destination_support import ACTION, row, settings_for


def test_after_the_run_the_requests_are_polled_until_processed(gproject, google_env,
                                                               waits) -> None:
    google_env.processing_polls = 3
    gproject.write_rows([row(f"o-{i}") for i in range(3)])
    gproject.write_job(settings_for(google_env, status_wait_seconds=600))
    result = gproject.run()
    [request] = gproject.requests()
    assert request["status"] == "SUCCESS" and request["run_id"] == result.run_id
    assert (request["route"], request["events"], request["record_count"]) == (ACTION, 3, 3)
    assert waits["status"] == [2.0, 4.0, 8.0]  # backoff while PROCESSING
    assert "google: 1 requests (3 events): 1 SUCCESS" in result.notes


def test_a_bounded_wait_leaves_requests_processing_for_the_report(gproject, google_env,
                                                                  waits, google_cli) -> None:
    google_env.processing_polls = 100
    gproject.write_rows([row("o-1")])
    gproject.write_job(settings_for(google_env, status_wait_seconds=1))
    result = gproject.run()
    assert waits["status"] == [1.0]  # one poll, one sleep up to the bound, one last poll
    assert [r["status"] for r in gproject.requests()] == ["PROCESSING"]
    assert any("not final yet" in note for note in result.notes)
    google_env.processing_polls = 0
    out = google_cli(gproject.root, "report", "google", gproject.job)
    assert out.exit_code == 0, out.output
    assert "SUCCESS" in out.output and [r["status"] for r in gproject.requests()] == ["SUCCESS"]


def test_a_lost_answer_resent_counts_as_delivered_and_shows_as_duplicate(gproject, google_env,
                                                                          waits) -> None:
    google_env.lose_responses(1)  # Google records the events, the answer never arrives
    gproject.write_rows([row(f"o-{i}") for i in range(2)])
    gproject.write_job(settings_for(google_env, status_wait_seconds=60))
    result = gproject.run()
    assert (result.status, result.counts.delivered) == ("succeeded", 2)
    [request] = gproject.requests()  # only the answered request has an id
    assert request["status"] == "FAILED" and request["duplicates"] == 2
    assert request["failed"] == 0
    assert request["errors"] == [{"reason": "DUPLICATE_TRANSACTION_ID", "count": 2}]
    assert "google: 2 events Google already had (DUPLICATE_TRANSACTION_ID): counted as " \
           "delivered" in result.notes
    assert {e["status"] for e in gproject.ledger()} == {"delivered"}


def test_offramp_runs_and_the_python_api_show_the_requests(gproject, google_env,
                                                           waits) -> None:
    google_env.fail_event("o-1", "EVENT_TOO_OLD")
    gproject.write_rows([row(f"o-{i}") for i in range(3)])
    gproject.write_job(settings_for(google_env, status_wait_seconds=60))
    gproject.run()
    runner = CliRunner(env={"COLUMNS": "250"})
    out = runner.invoke(cli, ["--project", str(gproject.root), "runs", gproject.job])
    assert out.exit_code == 0, out.output
    assert "google: 1 requests (3 events): 1 PARTIAL_SUCCESS" in out.output
    assert "google: failed processing: EVENT_TOO_OLD 1" in out.output
    table = open_project(gproject.root).table(gproject.job, "google_requests")
    assert table.column("errors").to_pylist() == [[{"reason": "EVENT_TOO_OLD", "count": 1}]]


def test_the_report_refuses_a_job_of_another_destination(project, google_cli) -> None:
    project.jsonl_job("other", "SELECT 1 AS id")
    out = google_cli(project.root, "report", "google", "other")
    assert out.exit_code == 1 and "needs a google job" in out.output


def test_apply_reads_counts_written_as_strings_and_drops_the_prefix() -> None:
    answer = {"requestStatusPerDestination": [{
        "requestStatus": "PARTIAL_SUCCESS", "eventsIngestionStatus": {"recordCount": "5"},
        "errorInfo": {"errorCounts": [
            {"recordCount": "2", "reason": "PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID"},
            {"recordCount": "1", "reason": "PROCESSING_ERROR_OPERATING_ACCOUNT_MISMATCH_FOR_"
                                           "AD_IDENTIFIER"}]}}]}
    import datetime as dt

    row_ = apply({"request_id": "r", "status": "SENT"}, answer, dt.datetime.now(dt.UTC))
    assert (row_["status"], row_["record_count"], row_["duplicates"], row_["failed"]) == (
        "PARTIAL_SUCCESS", 5, 2, 1)
    assert row_["errors"][1]["reason"] == "OPERATING_ACCOUNT_MISMATCH_FOR_AD_IDENTIFIER"


def test_poll_stops_at_its_deadline() -> None:
    clock = iter(range(0, 1000, 10))
    rows = [{"request_id": "r", "status": "SENT"}]
    slept: list[float] = []
    out = poll(rows, lambda rid: {"requestStatusPerDestination": [
        {"requestStatus": "PROCESSING"}]}, wait=25, sleep=slept.append,
        clock=lambda: next(clock))
    assert out[0]["status"] == "PROCESSING" and slept == [2.0, 4.0]
