"""The command line with the built-in jsonl destination: every command, exit codes,
and errors as one clear line, never a traceback."""

from __future__ import annotations

import csv
import io
import json

import pytest

from connector import Destination, hookimpl
from connector.kit.contract import Column, Contract

CUSTOMERS = "SELECT amperity_id AS id, email FROM Customer_360 ORDER BY id"
NULL_IDS = "SELECT email AS id, country FROM Customer_360"


@pytest.fixture
def jobs(project):
    project.jsonl_job("customers", CUSTOMERS)
    project.jsonl_job("with_nulls", NULL_IDS)
    project.jsonl_job("no_id", "SELECT email FROM Customer_360")
    return project


def _ok(result, code: int = 0) -> str:
    assert result.exit_code == code, (result.output, result.stderr, result.exception)
    assert "Traceback" not in result.output + result.stderr
    return result.stdout


def test_validate_a_good_job(jobs, cli_runner) -> None:
    out = _ok(cli_runner("validate", "customers"))
    assert "valid: customers -> jsonl (2 columns: id, email)" in out


def test_validate_lists_what_is_wrong(jobs, cli_runner) -> None:
    result = cli_runner("validate", "no_id")
    _ok(result, 1)
    assert "invalid:" in result.stderr
    assert "column `id` is missing: the jsonl destination needs it" in result.stderr


@pytest.mark.parametrize(("sql", "message"), [
    ("DROP TABLE Customer_360", "DROP is not allowed"),
    ("SELECT * FROM read_csv('/etc/passwd')", "read_csv() reads files"),
    ("SELECT amperity_id AS id FROM Customer_36", "did you mean Customer_360?"),
    ("SELECT 1 AS id; SELECT 2 AS id", "found 2 statements"),
])
def test_validate_refuses_bad_sql(project, cli_runner, sql: str, message: str) -> None:
    project.jsonl_job("bad", sql)
    result = cli_runner("validate", "bad")
    _ok(result, 1)
    assert message in result.stderr


def test_unknown_job(jobs, cli_runner) -> None:
    result = cli_runner("validate", "nope")
    _ok(result, 1)
    assert "no job named 'nope'" in result.stderr
    assert "(jobs: customers, no_id, with_nulls)" in result.stderr


def test_preview_shows_rows_and_events(jobs, cli_runner) -> None:
    out = _ok(cli_runner("preview", "customers", "--limit", "2"))
    assert "first 2 rows" in out
    assert 'event a1:\n{\n  "id": "a1",\n  "email": "Ann.Lee@Example.com"\n}' in out
    assert "a3" not in out
    assert not jobs.out.exists()


def test_preview_shows_rejects_with_reasons(jobs, cli_runner) -> None:
    out = _ok(cli_runner("preview", "with_nulls"))
    assert out.count("rejected") == 2 and "id is missing" in out


def test_run_rerun_full_and_dry_run(jobs, cli_runner) -> None:
    out = _ok(cli_runner("run", "customers", "--quiet"))
    assert "succeeded: run 1 of customers -> jsonl" in out
    assert "rows read 6 | events 6 | unchanged 0 | delivered 6 | rejected 0" in out
    assert sorted(e["id"] for e in jobs.events()) == ["a1", "a2", "a3", "a4", "a5", "a6"]

    out = _ok(cli_runner("run", "customers", "--quiet"))
    assert "unchanged 6 | delivered 0" in out
    assert len(jobs.events()) == 6

    out = _ok(cli_runner("run", "customers", "--full", "--quiet"))
    assert "unchanged 0 | delivered 6" in out
    assert len(jobs.events()) == 12

    out = _ok(cli_runner("run", "customers", "--dry-run", "--quiet"))
    assert "dry_run: run 4 of customers" in out
    assert "unchanged 6 | delivered 0" in out and "requests built 0 (0 bytes)" in out
    out = _ok(cli_runner("run", "customers", "--dry-run", "--full", "--quiet"))
    assert "dry_run: run 5 of customers" in out
    assert "requests built 1" in out
    assert len(jobs.events()) == 12
    assert jobs.state_rows("customers", "SELECT count(*) FROM state.ledger WHERE run_id >= 4") \
        == [(0,)]

    runs = json.loads(_ok(cli_runner("runs", "customers", "--format", "json")))
    assert [(r["run_id"], r["status"], r["delivered"]) for r in runs] == [
        (5, "dry_run", 0), (4, "dry_run", 0), (3, "succeeded", 6), (2, "succeeded", 0),
        (1, "succeeded", 6)]


def test_run_with_progress_and_profile(jobs, cli_runner) -> None:
    out = _ok(cli_runner("run", "customers", "--profile"))
    assert "time by stage (s): validate" in out
    assert "record: the senders' ledger writes, summed over their threads" in out


def test_rejects_in_every_format(jobs, cli_runner, tmp_path) -> None:
    out = _ok(cli_runner("run", "with_nulls", "--quiet"))
    assert "delivered 4 | rejected 2" in out
    assert "2  id is missing" in out

    assert "run 1 of with_nulls: 2 rejected" in _ok(cli_runner("rejects", "with_nulls"))
    records = json.loads(_ok(cli_runner("rejects", "with_nulls", "--format", "json")))
    assert [(r["stage"], r["reason"], r["event_key"]) for r in records] == [
        ("shape", "id is missing", None)] * 2
    rows = list(csv.DictReader(io.StringIO(
        _ok(cli_runner("rejects", "with_nulls", "--format", "csv", "--run", "1")))))
    assert [r["reason"] for r in rows] == ["id is missing"] * 2
    assert set(rows[0]) == {"run_id", "event_key", "route", "stage", "reason", "recorded_at"}

    target = tmp_path / "rejects.csv"
    assert _ok(cli_runner("rejects", "with_nulls", "--format", "csv", "-o", str(target))) == ""
    assert target.read_text().startswith("run_id,event_key,route,stage,reason,recorded_at")
    missing = cli_runner("rejects", "with_nulls", "--run", "99")
    _ok(missing, 1)
    assert "has no run 99 (runs 1 to" in missing.stderr
    _ok(cli_runner("rejects", "with_nulls", "--format", "xml"), 2)


def test_state_commands_before_any_run(jobs, cli_runner) -> None:
    assert "no runs yet" in _ok(cli_runner("runs"))
    result = cli_runner("rejects", "customers")
    _ok(result, 1)
    assert "the job has not run" in result.stderr


def test_jobs_lists_each_job_and_whether_it_validates(jobs, cli_runner) -> None:
    out = _ok(cli_runner("jobs"))
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")}
    assert "valid" in lines["customers"] and "jsonl" in lines["customers"]
    assert "column `id` is missing" in lines["no_id"]


def test_jobs_in_an_empty_project(cli_runner) -> None:
    assert "no jobs in" in _ok(cli_runner("jobs"))


def test_a_missing_warehouse_is_one_clear_line(jobs, cli_runner) -> None:
    (jobs.root / "warehouse.duckdb").unlink()
    for command in ("run", "validate", "preview"):
        result = cli_runner(command, "customers")
        _ok(result, 1)
        assert "error: the warehouse file" in result.stderr
        assert "does not exist" in result.stderr


def test_a_parquet_project_from_the_cli(parquet_project, cli_runner) -> None:
    parquet_project.jsonl_job(
        "store_orders", "SELECT DISTINCT order_id AS id FROM Unified_Itemized_Transactions "
                        "WHERE purchase_channel = 'store'")
    cli = cli_runner.at(parquet_project.root)
    assert "valid: store_orders" in _ok(cli("validate", "store_orders"))
    assert "delivered 4" in _ok(cli("run", "store_orders", "--quiet"))
    assert sorted(e["id"] for e in parquet_project.events()) == ["o1", "o3", "o4", "o6"]


def test_a_failed_run_exits_non_zero_with_its_reason(project, cli_runner) -> None:
    (project.root / "blocked").mkdir()
    project.write_job("to_a_folder", CUSTOMERS, "jsonl", path=str(project.root / "blocked"))
    result = cli_runner("run", "to_a_folder", "--quiet")
    out = _ok(result, 1)
    assert "failed: run 1 of to_a_folder" in out
    assert "IsADirectoryError" in out
    again = cli_runner("runs", "to_a_folder", "--format", "json")
    assert json.loads(_ok(again))[0]["status"] == "failed"


class Buggy(Destination):
    name = "buggy"
    contract = Contract(required=(Column("id"),))

    def shape_sql(self, source: str, columns: dict[str, str]) -> str:
        raise RuntimeError("a bug in the plugin")


class BuggyWarnings(Destination):
    name = "buggy-warnings"
    contract = Contract(required=(Column("id"),))

    @classmethod
    def warnings(cls, settings):
        raise RuntimeError("a bug in the plugin's warnings")


class BuggyPlugin:
    @hookimpl
    def register_destinations(self, register):
        register(Buggy)
        register(BuggyWarnings)


def test_an_internal_error_says_so_without_a_traceback(project, cli_runner, registered) -> None:
    registered(BuggyPlugin(), name="buggy")
    project.write_job("bug", CUSTOMERS, "buggy")
    result = cli_runner("run", "bug", "--quiet")
    _ok(result, 3)
    assert "internal error: RuntimeError: a bug in the plugin" in result.stderr
    verbose = cli_runner("--verbose", "run", "bug", "--quiet")
    assert verbose.exit_code == 3
    assert "Traceback" in verbose.stderr


def test_a_job_whose_plugin_breaks_never_hides_the_other_jobs(jobs, cli_runner,
                                                              registered) -> None:
    registered(BuggyPlugin(), name="buggy")
    jobs.write_job("bug", CUSTOMERS, "buggy-warnings")
    listed = _ok(cli_runner("jobs"))
    lines = {line.split()[1]: line for line in listed.splitlines() if line.startswith("│")}
    assert "valid" in lines["customers"]
    assert "internal error: RuntimeError: a bug in the plugin's warnings" in lines["bug"]


def test_destinations_and_plugins(cli_runner) -> None:
    out = _ok(cli_runner("destinations"))
    assert "jsonl" in out and "Append events as JSON lines" in out
    listed = json.loads(_ok(cli_runner("plugins", "--format", "json")))
    (jsonl,) = [p for p in listed if p["name"] == "jsonl"]
    assert jsonl["package"] == "offramp" and jsonl["hooks"] == ["register_destinations"]


def test_version(cli_runner) -> None:
    assert "version" in _ok(cli_runner("--version"))


def test_project_option_names_the_project_folder(tmp_path, project, cli_runner) -> None:
    """--project is the project, even inside another project's folder."""
    project.jsonl_job("outer_job", CUSTOMERS)
    inner = project.root / "sub"
    inner.mkdir()
    result = cli_runner.at(inner)("jobs")
    out = _ok(result)
    assert "outer_job" not in out
    assert "no jobs in" in out and str(inner) in out.replace("\n", "")


def test_a_relative_jsonl_path_is_relative_to_the_project(project, cli_runner, tmp_path,
                                                          monkeypatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    project.write_job("rel", CUSTOMERS, "jsonl", path="out/rel.jsonl")
    _ok(cli_runner("run", "rel", "--quiet"))
    assert len((project.root / "out" / "rel.jsonl").read_text().splitlines()) == 6
    assert not (elsewhere / "out").exists()


ABSURD = """SELECT * FROM (VALUES
  ('nan', 'NaN'::DOUBLE, TIMESTAMP '9999-12-31 23:59:59', repeat('x', 10)),
  ('inf', '-inf'::DOUBLE, TIMESTAMP '1970-01-01', 'ok'),
  ('big', 1e300, TIMESTAMP '2020-01-01', 'ééé ✓ 中文'),
  ('huge', 1.0, TIMESTAMP '2020-01-01', repeat('y', 2000000))
) AS t(id, price, ts, s)"""


def test_absurd_values_are_rejected_or_written_as_valid_json(project, cli_runner) -> None:
    project.jsonl_job("absurd", ABSURD)
    out = _ok(cli_runner("run", "absurd", "--quiet"))
    assert "delivered 2 | rejected 2" in out
    assert "2  price is NaN or infinite: JSON cannot carry it" in out
    lines = project.out.read_text(encoding="utf-8").splitlines()
    events = {e["id"]: e for e in (json.loads(line, parse_constant=_no_constants)
                                   for line in lines)}
    assert set(events) == {"big", "huge"}
    assert events["big"]["price"] == 1e300 and events["big"]["s"] == "ééé ✓ 中文"
    assert len(events["huge"]["s"]) == 2_000_000


def _no_constants(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


def test_unreadable_parquet_is_one_clear_line(parquet_project, cli_runner) -> None:
    (parquet_project.root / "exports" / "Customer_360.parquet").write_bytes(b"PAR1 not really")
    parquet_project.jsonl_job("j", CUSTOMERS)
    result = cli_runner.at(parquet_project.root)("run", "j", "--quiet")
    _ok(result, 1)
    assert "error: could not open the warehouse" in result.stderr


def test_brackets_in_messages_and_data_are_printed_as_they_are(project, cli_runner) -> None:
    """Rich would read '[settings]' or '[bold]' as markup and drop them."""
    (project.queries / "odd.sql").write_text("/* offramp\ndestination = 'jsonl'\n"
                                             "settings = 'x'\n*/ SELECT 1 AS id")
    result = cli_runner("validate", "odd")
    assert result.exit_code == 1 and "[settings] in" in result.stderr
    project.jsonl_job("marked", """SELECT * FROM (VALUES ('[bold]a[/bold]', 1.0),
                                   ('b', 'NaN'::DOUBLE)) AS t(id, "[price]")""")
    shown = _ok(cli_runner("preview", "marked"))
    assert 'event [bold]a[/bold]:\n{\n  "id": "[bold]a[/bold]",\n  "[price]": 1.0\n}' in shown
    assert "┃ [price] ┃" in shown  # a column name is printed as it is, too
    assert "rejected b: [price] is NaN or infinite" in shown
    out = _ok(cli_runner("run", "marked", "--quiet"))
    assert "1  [price] is NaN or infinite: JSON cannot carry it" in out
    table = _ok(cli_runner("rejects", "marked"))
    assert "[price] is NaN" in table


def test_preview_of_a_query_that_fails_on_the_data(project, cli_runner) -> None:
    project.jsonl_job("conv", "SELECT CAST(email AS INTEGER) AS id FROM Customer_360")
    result = cli_runner("preview", "conv")
    _ok(result, 1)
    assert "error: DuckDB refused the query: Conversion Error" in result.stderr
    for wrong in ("-1", "0"):
        refused = cli_runner("preview", "conv", "--limit", wrong)
        assert refused.exit_code == 2 and "--limit" in refused.stderr


# -- listings that fit, in every format ------------------------------------------------------
LISTINGS = [("jobs",), ("runs",), ("rejects", "with_nulls"), ("plugins",), ("destinations",),
            ("sources",)]


@pytest.mark.parametrize("command", LISTINGS, ids=lambda c: c[0])
def test_every_listing_offers_json_and_csv(jobs, cli_runner, command) -> None:
    _ok(cli_runner("run", "with_nulls", "--quiet"))
    as_json = json.loads(_ok(cli_runner(*command, "--format", "json")))
    assert isinstance(as_json, list) and as_json, command
    rows = list(csv.DictReader(io.StringIO(_ok(cli_runner(*command, "--format", "csv")))))
    assert len(rows) == len(as_json) and set(rows[0]) >= set(as_json[0])


def test_a_listing_too_wide_for_the_terminal_becomes_one_block_per_record(jobs, cli_runner,
                                                                          monkeypatch) -> None:
    from connector.cli import output

    _ok(cli_runner("run", "with_nulls", "--quiet"))
    monkeypatch.setattr(output.out, "_width", 60)
    text = _ok(cli_runner("runs", "with_nulls"))
    assert "│" not in text and "┃" not in text  # no table: it would not fit
    assert max(len(line) for line in text.splitlines()) <= 60 or "error" in text
    assert "   status  succeeded" in text and "delivered  " in text


def test_a_listing_that_fits_is_a_table(jobs, cli_runner) -> None:
    text = _ok(cli_runner("destinations"))
    assert "destination" in text and "│" in text


def test_preview_rows_too_wide_become_blocks(project, cli_runner, monkeypatch) -> None:
    from connector.cli import output

    project.jsonl_job("wide", "SELECT amperity_id AS id, * FROM Customer_360 ORDER BY id")
    monkeypatch.setattr(output.out, "_width", 80)
    text = _ok(cli_runner("preview", "wide", "--limit", "2"))
    assert "ex… em…" not in text and "│" not in text.split("event")[0]
    assert "amperity_id  a1" in text and "     email  Ann.Lee@Example.com" in text


def test_a_project_folder_that_does_not_exist_is_an_error_not_an_empty_project(
        tmp_path, cli_runner) -> None:
    import connector

    missing = tmp_path / "does" / "not" / "exist"
    result = cli_runner.at(missing)("jobs")
    assert result.exit_code == 1 and f"the project folder {missing} does not exist" \
        in result.stderr
    with pytest.raises(connector.ConfigError, match="does not exist"):
        connector.open_project(missing)


def test_runs_of_a_job_that_does_not_exist_says_so(jobs, cli_runner) -> None:
    result = cli_runner("runs", "nosuchjob")
    assert result.exit_code == 1 and "no job named 'nosuchjob'" in result.stderr
    assert "no runs yet" in _ok(cli_runner("runs", "customers"))


def _deep(levels: int) -> str:
    return f"SELECT amperity_id AS id, {'(' * levels}1{')' * levels} AS depth FROM Customer_360"


@pytest.mark.parametrize("levels", [60, 2_000])
def test_a_query_nested_too_deeply_is_refused_and_other_jobs_still_list(
        jobs, cli_runner, levels: int) -> None:
    """sqlglot parses recursively: deep enough nesting exhausts Python's stack. That job
    is refused with the reason; listing the other jobs still works."""
    jobs.jsonl_job("deep", _deep(levels))
    for command in ("validate", "preview", "run"):
        result = cli_runner(command, "deep")
        _ok(result, 1)
        assert "the query nests too deeply for the SQL parser" in result.stderr, result.stderr
        assert "internal error" not in result.stderr
    out = _ok(cli_runner("jobs"))
    lines = {line.split()[1]: line for line in out.splitlines() if line.startswith("│")}
    assert "valid" in lines["customers"]
    assert "nests too deeply" in lines["deep"]


def test_nesting_the_parser_handles_is_accepted(jobs, cli_runner) -> None:
    jobs.jsonl_job("nested", _deep(20))
    assert "valid: nested" in _ok(cli_runner("validate", "nested"))
