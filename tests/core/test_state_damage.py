"""A damaged state file (bytes changed or cut short elsewhere) is named as damaged, with
what to do, by every command that opens it; never taken for a file in use, never an
internal error. ``offramp runs`` of every job still lists the other jobs' runs and marks
the damaged one."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.engines.warehouse import connect_state

BLOCK = 262_144  # DuckDB's block size: the file is two headers, then blocks


def _scramble(data: bytes, at: int, size: int = 4096) -> bytes:
    return data[:at] + bytes(b ^ 0xA5 for b in data[at:at + size]) + data[at + size:]


HEADERS = 12_288  # the file header and two database headers, then the blocks


def _every_block(data: bytes) -> bytes:
    """Each data block scrambled past its checksum."""
    out = bytearray(data)
    for start in range(HEADERS, len(data), BLOCK):
        out[start + 8:start + 2056] = _scramble(data[start + 8:start + 2056], 0, 2048)
    return bytes(out)


#: How a file gets damaged: its magic bytes; a database header (checksum at ATTACH);
#: the data blocks (checksum when a query reads one); cut short (a read past the end).
DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "not_a_duckdb_file": lambda data: _scramble(data, 0, 64),
    "database_header": lambda data: _scramble(data, 4096, 256),
    "data_blocks": _every_block,
    "cut_short": lambda data: data[:HEADERS + 4096],
}


@pytest.fixture
def damaged(project, cli_runner) -> Callable[[str], Path]:
    """``damaged(kind)``: the state file of a job that ran twice, then damaged."""
    sql = "SELECT amperity_id AS id, email FROM Customer_360"
    project.jsonl_job("sync", sql)
    project.jsonl_job("other", sql)
    for name in ("sync", "other", "sync"):
        assert cli_runner("run", name, "--quiet").exit_code == 0
    path = project.project.state_path("sync")
    con = connect_state(path, write=True)
    con.execute("CHECKPOINT state")
    con.close()

    def damage(kind: str) -> Path:
        data = path.read_bytes()
        assert len(data) > HEADERS + BLOCK // 2
        path.write_bytes(DAMAGE[kind](data))
        return path

    return damage


@pytest.mark.parametrize("kind", sorted(DAMAGE))
@pytest.mark.parametrize("command", [("runs", "sync"), ("rejects", "sync"),
                                     ("run", "sync", "--quiet")])
def test_a_damaged_state_file_is_named_with_what_to_do(damaged, cli_runner, kind: str,
                                                       command: tuple[str, ...]) -> None:
    path = damaged(kind)
    result = cli_runner(*command)
    text = " ".join((result.stdout + result.stderr).split())
    assert result.exit_code == 1, (result.exit_code, text)
    assert "internal error" not in text and "Traceback" not in text
    assert "in use" not in text
    assert f"the state file {path} is damaged" in text
    assert "move it aside" in text and "resends" in text


@pytest.mark.parametrize("kind", sorted(DAMAGE))
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_runs_of_every_job_marks_a_damaged_one_and_lists_the_others(damaged, cli_runner,
                                                                     kind: str,
                                                                     fmt: str) -> None:
    path = damaged(kind)
    result = cli_runner("runs", "--format", fmt)
    text = " ".join((result.stdout + result.stderr).split())
    assert result.exit_code == 0, (result.exit_code, text)  # as for a busy job
    assert "internal error" not in text and "Traceback" not in text
    if fmt == "json":
        rows = json.loads(result.stdout)
        assert [r["status"] for r in rows if r["job"] == "other"] == ["succeeded"]
        (mark,) = [r for r in rows if r["job"] == "sync"]
        assert mark["status"] == "damaged" and mark["run_id"] is None
        said = " ".join(mark["error"].split())
    else:
        flat = " ".join(result.stdout.replace("│", " ").replace(",", " ").split())
        assert re.search(r"\bother (status )?succeeded\b", flat), flat
        assert re.search(r"\bsync (status )?damaged\b", flat), flat
        said = " ".join(flat.replace('"', " ").split()) if fmt == "csv" else text
    assert f"the state file {path} is damaged" in said, said
    assert "move it aside" in said and "resends" in said
