"""Shared fixtures: one default-size demo build per test session (per xdist worker)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from connector.engines.warehouse import Engine, Warehouse, WarehouseWriter
from plugins.meta.demo_data import build_demo_warehouse, demo_tables

# A fixed "as of" day for checks on the data itself; the query tests build for the real
# (UTC) today because the seed query measures its window from CURRENT_DATE.
TODAY = dt.date(2026, 3, 15)


@pytest.fixture(scope="session")
def today() -> dt.date:
    """The fixed day the ``tables`` and ``fixed_engine`` builds are as of."""
    return TODAY


@pytest.fixture(scope="session")
def tables() -> dict[str, pa.Table]:
    return demo_tables(today=TODAY)


@pytest.fixture(scope="session")
def fixed_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The default build as of ``TODAY``, opened read-only."""
    path = tmp_path_factory.mktemp("demo-fixed") / "warehouse.duckdb"
    with WarehouseWriter(Warehouse("duckdb", path)) as writer:
        build_demo_warehouse(writer, today=TODAY)
    with Engine(Warehouse("duckdb", path)) as engine:
        yield engine


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@pytest.fixture(scope="session")
def live_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default build as of today (UTC), for running the seed query as written."""
    path = tmp_path_factory.mktemp("demo-live") / "warehouse.duckdb"
    with WarehouseWriter(Warehouse("duckdb", path)) as writer:
        build_demo_warehouse(writer, today=utc_today())
    return path


@pytest.fixture
def live_engine(live_warehouse: Path) -> Iterator[Engine]:
    with Engine(Warehouse("duckdb", live_warehouse)) as engine:
        yield engine
