"""``offramp report microsoft``: through the real CLI group, against the emulator."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from connector import registry
from connector.cli.app import cli
from plugins.microsoft.cli import add_commands
from plugins.microsoft.emulator import ACCESS_TOKEN, ACCOUNT_ID, CUSTOMER_ID
from plugins.microsoft.emulator_rules import Upload

JOB = """/* offramp
destination = "{destination}"
[settings]
customer_id = "{customer}"
account_id = "{account}"
base_url = "{url}"
conversion_name = "Store Sale"
goal_ids = ["4000123"]
*/
SELECT 1 AS x
"""


@pytest.fixture
def project(tmp_path: Path, emulator, creds) -> Path:
    (tmp_path / "queries").mkdir()
    for name, destination in (("ms_job", "microsoft"), ("other", "jsonl")):
        (tmp_path / "queries" / f"{name}.sql").write_text(JOB.format(
            destination=destination, customer=CUSTOMER_ID, account=ACCOUNT_ID,
            url=emulator.url))
    return tmp_path


@pytest.fixture
def run(project: Path):
    registry.manager().hook.register_commands(cli=cli)  # what `offramp` does at start

    def invoke(*args: str) -> click.testing.Result:
        return CliRunner().invoke(cli, ["--project", str(project), "report", "microsoft",
                                        *args], catch_exceptions=False)
    return invoke


@pytest.fixture
def uploads(emulator, clock):
    for reason in (None, None, "DuplicateConversionKey"):
        emulator.add_upload(Upload("4000123", "Store Sale", clock.now, clock.now, reason=reason))


def test_the_hook_adds_a_report_group_once(project):
    group = click.Group("offramp")
    add_commands(group)
    add_commands(group)
    report = group.commands["report"]
    assert isinstance(report, click.Group) and list(report.commands) == ["microsoft"]
    registry.manager().hook.register_commands(cli=cli)
    assert "microsoft" in cli.commands["report"].commands  # type: ignore[attr-defined]


def test_table_output(run, uploads):
    result = run("ms_job", "--from", "2026-10-01", "--to", "2026-10-02")
    assert result.exit_code == 0, result.output
    assert "goal 4000123 · Store Sale" in result.output
    assert "66.7% attributed (2 of 3)" in result.output
    assert "DuplicateConversionKey 1" in result.output


def test_csv_to_stdout_with_goal_ids_from_the_command_line(run, uploads, emulator):
    result = run("ms_job", "--from", "2026-10-01", "--to", "2026-10-02", "--goal-id",
                 "4000123,4000124", "--format", "csv", "--channel", "CampaignManagementAPI")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert rows == [{"goal_id": "4000123", "conversion_name": "Store Sale",
                     "upload_date": "2026-10-02", "success_count": "2",
                     "unattributed_count": "1", "success_rate": "0.666667",
                     "alerts": "DuplicateConversionKey:1"}]
    sent = emulator.calls[0]
    assert sent.json()["GoalIds"] == ["4000123", "4000124"]
    assert sent.json()["UploadChannelFilter"] == "CampaignManagementAPI"
    assert sent.header("Authorization") == f"Bearer {ACCESS_TOKEN}"


def test_json_to_a_file(run, uploads, project):
    out = project / "report.json"
    result = run("ms_job", "--from", "2026-09-20", "--to", "2026-10-02", "--format", "json",
                 "-o", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["start"] == "2026-09-20" and data["goals"][0]["unattributed_count"] == 1


@pytest.mark.parametrize("args, message", [
    (["other", "--from", "2026-10-01", "--to", "2026-10-02"], "sends to 'jsonl'"),
    (["nope", "--from", "2026-10-01", "--to", "2026-10-02"], "no job named 'nope'"),
])
def test_job_errors_exit_1_with_a_clear_line(run, args, message):
    result = run(*args)
    assert result.exit_code == 1 and message in result.output


@pytest.mark.parametrize("args, message", [
    (["ms_job", "--from", "yesterday"], "is not a date"),
    (["ms_job", "--from", "2026-10-02", "--to", "2026-10-01"], "--to is before --from"),
    (["ms_job", "--from", "2026-10-01", "--to", "2026-10-02", "--goal-id", "x1"],
     "goal ids are numbers"),
])
def test_usage_errors(run, args, message):
    result = run(*args)
    assert result.exit_code == 2 and message in result.output


def test_bad_credentials_exit_1_without_the_token(run, monkeypatch):
    monkeypatch.setenv("MSADS_ACCESS_TOKEN", "expired-secret-token-value")
    result = run("ms_job", "--from", "2026-10-01", "--to", "2026-10-02")
    assert result.exit_code == 1
    assert "refused the credentials" in result.output
    assert "expired-secret-token-value" not in result.output
