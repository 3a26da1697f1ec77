"""The access token never appears in a message, a log line, the state file or the
summary, even when Meta echoes it back in an error."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import pytest
from click.testing import CliRunner

from connector.cli import app as offramp_cli
from connector.engines.warehouse import connect_state
from tests.meta.conftest import TOKEN, row, settings_for


def echo(code: int) -> dict:
    """A Graph error whose texts repeat the token."""
    return {"error": {"message": f"({code}) Invalid parameter access_token={TOKEN}",
                      "type": "OAuthException", "code": code,
                      "error_user_msg": f"The token {TOKEN} was rejected"}}


def test_the_token_never_leaks(meta_project, emu, caplog, capsys) -> None:
    """Three runs through every path a message takes: rejected events whose reason
    echoes the token, throttling and retries, and a fatal token error."""
    caplog.set_level(logging.DEBUG)
    project = meta_project
    project.write_rows([row(f"o-{i}") for i in range(3)])
    project.write_job(settings_for())
    emu.inject(status=400, body=echo(100), times=5)  # 3 events, split down to each one
    first = project.run()
    project.write_rows([row(f"p-{i}") for i in range(3)])
    emu.throttle(17, retry_after=2)
    emu.transient(2)
    second = project.run()
    project.write_rows([row(f"q-{i}") for i in range(3)])
    emu.inject(status=401, body=echo(190))
    third = project.run()

    # The token was sent, and every path was taken.
    assert any(TOKEN.encode() in call.body for call in emu.calls)
    assert first.counts.rejected == 3
    [reason] = first.counts.reasons
    assert "***" in reason
    assert second.status == "succeeded" and second.counts.delivered == 3
    assert len(project.sleeps) == 2
    assert third.status == "failed" and "set META_ACCESS_TOKEN" in third.error

    # Summaries, logs, output.
    assert TOKEN not in repr([first, second, third])
    assert TOKEN not in caplog.text
    assert all(TOKEN not in str(record.args) for record in caplog.records)
    captured = capsys.readouterr()
    assert TOKEN not in captured.out and TOKEN not in captured.err

    # The state: every table, and the files themselves.
    tables = {name: project.state_rows(f"SELECT * FROM state.{name}")
              for name in ("runs", "ledger", "rejects")}
    assert tables["rejects"] and tables["runs"]
    assert TOKEN not in repr(tables)
    files = list(project.project.state_path(project.job).parent.iterdir())
    assert files
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path


# -- values read from the environment into settings (`${NAME}`) -------------------------
def _fresh(prefix: str) -> str:
    """A value no earlier test registered for scrubbing."""
    return f"{prefix}{uuid.uuid4().hex}"


def _state_bytes(project) -> bytes:
    """Every byte of the job's state files, after a CHECKPOINT folded the WAL in."""
    path = project.project.state_path(project.job)
    con = connect_state(path)
    try:
        con.execute("CHECKPOINT state")
    finally:
        con.close()
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())


def test_a_value_expanded_from_the_environment_is_scrubbed_everywhere(
        meta_project, emu, monkeypatch) -> None:
    """A value from the environment in ``base_url``'s path, which Meta does not serve:
    the failed run's error would quote it, in the output and in the runs table."""
    value = _fresh("leaky-")
    monkeypatch.setenv("LEAKY_PATH", value)
    project = meta_project
    recent = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    project.write_rows([row("o-1", timestamp=recent)])  # the CLI runs on the wall clock
    project.write_job(settings_for(base_url="${META_BASE_URL}/${LEAKY_PATH}"))
    result = CliRunner().invoke(offramp_cli.cli, ["--project", str(project.root), "run",
                                                  project.job], catch_exceptions=False)
    assert result.exit_code != 0
    assert "***" in result.output
    assert value not in result.output
    [run] = project.runs()
    assert run["status"] == "failed" and "***" in run["error"]
    assert value.encode() not in _state_bytes(project)


@pytest.mark.parametrize("setting", ["access_token_env", "default_country"])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_secret_expanded_into_a_setting_never_prints(meta_project, emu, monkeypatch,
                                                       setting, command) -> None:
    """``access_token_env = "${META_ACCESS_TOKEN}"`` (the token where its variable's
    name belongs) is refused with the fix; a token in another setting is masked."""
    token = _fresh("EAAleak-")
    monkeypatch.setenv("META_ACCESS_TOKEN", token)
    project = meta_project
    project.write_rows([row("o-1")])
    project.write_job(settings_for(**{setting: "${META_ACCESS_TOKEN}"}))
    result = CliRunner().invoke(offramp_cli.cli, ["--project", str(project.root), command,
                                                  project.job], catch_exceptions=False)
    assert result.exit_code != 0
    assert token not in result.output
    if setting == "access_token_env":
        assert 'write access_token_env = "META_ACCESS_TOKEN"' in " ".join(result.output.split())
    path = project.project.state_path(project.job)
    if path.exists():
        assert token.encode() not in _state_bytes(project)
