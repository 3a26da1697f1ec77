"""A DuckDB error raised while reading rows can quote a warehouse value (an email that
does not cast): every surface masks it, the same way: ``offramp preview``, ``run``,
the Python API's ``plan()`` and ``events()``, and the ``runs`` table."""

from __future__ import annotations

import pytest

import connector
from connector.kit.errors import OfframpError

#: Every email of the test warehouse (tests/conftest.py), as DuckDB would quote it.
EMAILS = ("Ann.Lee@Example.com", "bob@example.com", "dee@example.org", "fay@example.net")
#: A cast that fails on the first email it meets, quoting it.
BAD_CAST = "SELECT amperity_id AS id, CAST(email AS INTEGER) AS n FROM Customer_360"


def _clean(text: str) -> None:
    for email in EMAILS:
        assert email not in text, text
    assert "@" not in text, text


@pytest.fixture
def bad_job(project):
    project.jsonl_job("bad_cast", BAD_CAST)
    return project


@pytest.mark.parametrize("command", ["preview", "run"])
def test_the_cli_masks_values_in_duckdb_errors(bad_job, cli_runner, command: str) -> None:
    result = cli_runner(command, "bad_cast")
    text = result.stdout + result.stderr
    assert result.exit_code == 1, text
    assert "Could not convert string" in text and "INT32" in text
    _clean(text)


def test_the_runs_table_holds_the_masked_message(bad_job, cli_runner) -> None:
    assert cli_runner("run", "bad_cast").exit_code == 1
    [(error,)] = bad_job.state_rows("bad_cast", "SELECT error FROM state.runs")
    assert "Could not convert string" in error
    _clean(error)


@pytest.mark.parametrize("call", ["plan", "events"])
def test_the_python_api_masks_values_in_duckdb_errors(bad_job, call: str) -> None:
    handle = connector.open_project(bad_job.root)
    with pytest.raises(OfframpError) as info:
        result = getattr(handle, call)("bad_cast")
        if call == "events":
            result.close()
    assert "Could not convert string" in str(info.value)
    _clean(str(info.value))


def test_preview_masks_a_non_utf8_parquet_value(parquet_project, cli_runner) -> None:
    """A Parquet string holding bytes that are not UTF-8 (pyarrow writes them unchecked):
    DuckDB quotes the value; ``preview`` names the file and masks the value."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = pa.array([b"ok@example.com", b"secret\xff\xfe.person@example.com"], pa.binary())
    bad = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())
    pq.write_table(pa.table({"id": ["a", "b"], "email": bad}),
                   parquet_project.root / "exports" / "odd.parquet")
    parquet_project.jsonl_job("odd", "SELECT id, email FROM odd")
    result = cli_runner.at(parquet_project.root)("preview", "odd")
    text = result.stdout + result.stderr
    assert result.exit_code == 1, text
    assert "not valid UTF8" in text and "odd.parquet" in text
    assert "secret" not in text and "person@example" not in text
