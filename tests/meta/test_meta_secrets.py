"""The access token never appears in a message, a log line, the state file or the
summary, even when Meta echoes it back in an error."""

from __future__ import annotations

import logging

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
