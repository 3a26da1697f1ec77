"""Projects and jobs: the ``/* offramp ... */`` header, offramp.toml, finding things."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.kit.errors import ConfigError, OfframpError
from connector.project import Project, parse_job


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_header_gives_destination_settings_options_and_sql(tmp_path: Path) -> None:
    path = _write(tmp_path / "queries" / "meta_events.sql", """
/* offramp
destination = "meta"
schedule = "daily"
[settings]
dataset_id = "1234"
access_token_env = "META_ACCESS_TOKEN"
window_days = 7
*/
SELECT 1 AS id;
""")
    job = parse_job(path)
    assert job.name == "meta_events"
    assert job.destination == "meta"
    assert job.settings == {"dataset_id": "1234", "access_token_env": "META_ACCESS_TOKEN",
                            "window_days": 7}
    assert job.options == {"schedule": "daily"}
    assert job.sql == "SELECT 1 AS id;"
    assert job.path == path


@pytest.mark.parametrize(("text", "message"), [
    ("SELECT 1 AS id", "has no header: start it with a block comment"),
    ("SELECT 1 AS id\n/* offramp\ndestination = 'jsonl'\n*/", "has no header"),
    ("/* not offramp\ndestination = 'jsonl'\n*/ SELECT 1", "has no header"),
    ("/* offramp\ndestination = jsonl\n*/ SELECT 1", "is not valid TOML"),
    ("/* offramp\n[settings]\npath = 'x'\n*/ SELECT 1", "must name a destination"),
    ("/* offramp\ndestination = ''\n*/ SELECT 1", "must name a destination"),
    ("/* offramp\ndestination = 3\n*/ SELECT 1", "must name a destination"),
    ("/* offramp\ndestination = 'jsonl'\nsettings = 'x'\n*/ SELECT 1", "must be a table"),
])
def test_header_errors(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "job.sql", text)
    with pytest.raises(ConfigError, match=message):
        parse_job(path)


def test_non_utf8_job_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "job.sql", "/* offramp\ndestination = 'jsonl'\n*/ SELECT '\xe9'"
                  .encode("latin-1"))
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        parse_job(path)


def test_header_may_follow_blank_lines_and_leave_no_sql(tmp_path: Path) -> None:
    job = parse_job(_write(tmp_path / "j.sql", "\n\n  /* offramp destination = 'jsonl' */\n"))
    assert job.destination == "jsonl"
    assert job.sql == ""


def test_unknown_job_lists_the_known_ones(project) -> None:
    project.jsonl_job("alpha", "SELECT 1 AS id")
    project.jsonl_job("beta", "SELECT 1 AS id")
    with pytest.raises(ConfigError) as info:
        project.project.job("gamma")
    assert "no job named 'gamma'" in str(info.value)
    assert "(jobs: alpha, beta)" in str(info.value)


def test_unknown_job_in_an_empty_project(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\(jobs: none\)"):
        Project(tmp_path).job("anything")


def test_job_by_name_or_by_path(project, tmp_path: Path) -> None:
    project.jsonl_job("alpha", "SELECT 1 AS id")
    assert project.project.job("alpha").name == "alpha"
    elsewhere = _write(tmp_path / "elsewhere" / "beta.sql",
                       "/* offramp\ndestination = 'jsonl'\n*/ SELECT 1 AS id")
    assert project.project.job(str(elsewhere)).name == "beta"


@pytest.mark.parametrize("ref", ["../etc/passwd", "a b", "-x", ""])
def test_bad_job_names_are_refused(project, ref: str) -> None:
    with pytest.raises(ConfigError, match="is not a job name"):
        project.project.job(ref)


def test_job_file_with_an_unusable_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "my job.sql", "/* offramp\ndestination = 'jsonl'\n*/ SELECT 1")
    with pytest.raises(ConfigError, match="job names use letters"):
        Project(tmp_path).job(str(path))


def test_default_warehouse_and_places(tmp_path: Path) -> None:
    project = Project(tmp_path)
    assert project.warehouse.kind == "duckdb"
    assert project.warehouse.path == tmp_path.resolve() / "warehouse.duckdb"
    assert project.state_path("j") == tmp_path.resolve() / ".offramp" / "state" / "j.duckdb"
    assert project.lock_path("j").parent.name == "locks"
    assert project.engine_settings == {}


def test_offramp_toml(tmp_path: Path) -> None:
    _write(tmp_path / "offramp.toml", """
[warehouse]
parquet = "exports"
[engine]
threads = 2
memory_limit = "1GB"
[sources.rq]
base_url = "http://127.0.0.1:1"
""")
    project = Project(tmp_path)
    assert project.warehouse.kind == "parquet"
    assert project.warehouse.path == tmp_path.resolve() / "exports"
    assert project.engine_settings == {"threads": "2", "memory_limit": "1GB"}
    assert project.source_settings("rq") == {"base_url": "http://127.0.0.1:1"}
    assert project.source_settings("other") == {}


def test_offramp_toml_absolute_warehouse(tmp_path: Path) -> None:
    target = tmp_path / "data" / "wh.duckdb"
    _write(tmp_path / "proj" / "offramp.toml", f'[warehouse]\nduckdb = "{target}"\n')
    assert Project(tmp_path / "proj").warehouse.path == target


@pytest.mark.parametrize(("text", "message"), [
    ("[warehouse\nduckdb = 'x'", "offramp.toml is not valid TOML"),
    ("[warehouse]\nduckdb = 'a.duckdb'\nparquet = 'b'",
     r"\[warehouse\] sets both duckdb and parquet: keep one"),
    ("[warehous]\nduckdb = 'a.duckdb'", r"unknown section \[warehous\]; did you mean "
     r"\[warehouse\]\?"),
    ("[warehouse]\nduckb = 'a.duckdb'", r"unknown key `duckb` in \[warehouse\]; did you mean "
     r"`duckdb`\?"),
    ("[engine]\nmemory_limt = '4GB'", r"unknown key `memory_limt` in \[engine\]; did you mean "
     r"`memory_limit`\?"),
    ("[engine]\nmemory_limit = 'lots'", r"\[engine\] memory_limit = 'lots' is not a size: write "
     r"a number and a unit"),
    ("[engine]\nthreads = 0", r"\[engine\] threads must be at least 1"),
    ("[spark]\nmastr = 'local[2]'", r"unknown key `mastr` in \[spark\]; did you mean `master`"),
    ("[zzz]\nx = 1", r"unknown section \[zzz\] \(valid: \[warehouse\], \[engine\], "
     r"\[spark\], \[sources\]\)"),
])
def test_offramp_toml_errors(tmp_path: Path, text: str, message: str) -> None:
    _write(tmp_path / "offramp.toml", text)
    with pytest.raises(OfframpError, match=message):
        Project(tmp_path)


def test_a_value_duckdb_refuses_names_the_engine_setting(tmp_path: Path) -> None:
    from connector.engines.warehouse import Engine, Warehouse, WarehouseWriter

    with WarehouseWriter(Warehouse("duckdb", tmp_path / "warehouse.duckdb")) as writer:
        writer.replace("t", __import__("pyarrow").table({"x": [1]}), where={})
    with pytest.raises(ConfigError) as raised:
        Engine(Warehouse("duckdb", tmp_path / "warehouse.duckdb"),
               settings={"threads": "many"})
    assert "offramp.toml: [engine] threads = 'many' was refused by DuckDB" \
        in str(raised.value)
    assert "could not open the warehouse" not in str(raised.value)


@pytest.mark.parametrize("missing", ["does/not/exist", "a-file"])
def test_a_project_folder_that_does_not_exist_is_an_error(tmp_path: Path, missing: str) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match="does not exist|is a file, not a project folder"):
        Project(tmp_path / missing)


def test_find_walks_up_to_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "queries").mkdir()
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert Project.find(deep).root == tmp_path.resolve()
    monkeypatch.chdir(deep)
    assert Project.find().root == tmp_path.resolve()
    monkeypatch.setenv("OFFRAMP_PROJECT", str(tmp_path / "a"))
    assert Project.find().root == tmp_path.resolve()


def test_find_without_a_project_uses_the_start(tmp_path: Path) -> None:
    assert Project.find(tmp_path).root == tmp_path.resolve()
