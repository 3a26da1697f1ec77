"""Fixtures for the Python API and notebook tests: a tiny jsonl project, a demo Meta
project over a small demo warehouse (built once per test process), and the Meta emulator."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import connector
from connector.engines.warehouse import Warehouse, WarehouseWriter
from plugins.meta.demo import JOB, TOKEN, job_text
from plugins.meta.demo_data import build_demo_warehouse
from plugins.meta.emulator import MetaEmulator

ORDERS = 3000
JSONL_JOB = "people"


@pytest.fixture
def jsonl_project(tmp_path: Path) -> connector.ProjectHandle:
    """Three people (one without an id) and a jsonl job writing to ``out.jsonl``."""
    root = tmp_path / "jsonl"
    with WarehouseWriter(Warehouse("duckdb", root / "warehouse.duckdb")) as writer:
        writer.replace("people", pa.table({"id": [1, 2, None], "city": ["Oslo", "Lima", "Rome"]}),
                       where={})
    (root / "queries").mkdir()
    (root / "queries" / f"{JSONL_JOB}.sql").write_text(
        f'/* offramp\ndestination = "jsonl"\n[settings]\npath = "{root / "out.jsonl"}"\n*/\n'
        "SELECT id, city FROM people\n", encoding="utf-8")
    return connector.open_project(root)


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo warehouse as of today (UTC): the saved job reads the last 7 days."""
    path = tmp_path_factory.mktemp("demo-warehouse") / "warehouse.duckdb"
    with WarehouseWriter(Warehouse("duckdb", path)) as writer:
        build_demo_warehouse(writer, orders=ORDERS, today=dt.datetime.now(dt.UTC).date())
    return path


def make_meta_project(root: Path, warehouse: Path) -> connector.ProjectHandle:
    (root / "queries").mkdir(parents=True)
    (root / "offramp.toml").write_text(f'[warehouse]\nduckdb = "{warehouse}"\n', encoding="utf-8")
    (root / "queries" / f"{JOB}.sql").write_text(job_text(), encoding="utf-8")
    return connector.open_project(root)


@pytest.fixture
def meta_project(tmp_path: Path, demo_warehouse: Path) -> connector.ProjectHandle:
    """The saved Meta job over the shared demo warehouse (read-only), empty ledger."""
    return make_meta_project(tmp_path / "meta", demo_warehouse)


@pytest.fixture
def own_meta_project(tmp_path: Path, demo_warehouse: Path) -> connector.ProjectHandle:
    """Like ``meta_project`` over a private copy of the warehouse, for tests that change it."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(demo_warehouse, copy)
    return make_meta_project(tmp_path / "meta", copy)


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[MetaEmulator]:
    with MetaEmulator(tokens={TOKEN}) as emulator:
        yield emulator  # type: ignore[misc]


@pytest.fixture
def emulator(shared_emulator: MetaEmulator, monkeypatch: pytest.MonkeyPatch
             ) -> Iterator[MetaEmulator]:
    """The Meta emulator, fresh, with the job pointed at it."""
    shared_emulator.reset()
    shared_emulator.tokens = {TOKEN}
    monkeypatch.setenv("META_BASE_URL", shared_emulator.url)
    monkeypatch.setenv("META_ACCESS_TOKEN", TOKEN)
    yield shared_emulator
    shared_emulator.reset()
