"""Fixtures shared by every test folder.

* Only the built-in plugins load (``OFFRAMP_LOAD_PLUGINS``), so plugins installed
  in the environment never leak into the tests.
* ``project``: a temporary project with a small Amperity-like DuckDB warehouse
  (``Unified_Itemized_Transactions``, ``Customer_360``) and a ``queries/`` folder.
* ``parquet_project``: the same data as Parquet exports (one file, one
  hive-partitioned folder), configured in ``offramp.toml``.
* ``registered``: register a plugin object for one test.
* ``cli_runner``: run ``offramp --project <project> ...`` in process.

Temporary folders go to /dev/shm when it exists (see below).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

# Before anything imports connector: the plugin switch and a wide console, so that
# rich does not wrap the lines tests read.
os.environ["OFFRAMP_LOAD_PLUGINS"] = "jsonl,meta,microsoft,iqm,rq,google"
os.environ.pop("OFFRAMP_DISABLE_PLUGINS", None)
os.environ.pop("OFFRAMP_PROJECT", None)
os.environ["COLUMNS"] = "250"
# Temporary folders in RAM where there is RAM to put them in: DuckDB syncs its files
# to disk at every commit, and on a slow disk that doubles the suite's time. pytest
# still keeps only its last three runs there. Set PYTEST_DEBUG_TEMPROOT to opt out.
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", "/dev/shm")

from click.testing import CliRunner, Result  # noqa: E402

from connector import registry  # noqa: E402
from connector.cli.app import cli  # noqa: E402
from connector.engines.warehouse import Warehouse, WarehouseWriter  # noqa: E402
from connector.project import Project  # noqa: E402

#: The moment the test data is anchored to (orders fall in the week before it).
NOW = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC)


def _ts(days_ago: float) -> dt.datetime:
    return (NOW - dt.timedelta(days=days_ago)).replace(tzinfo=None)


def customer_360() -> pa.Table:
    """Six customers: emails and phones in several shapes, some missing."""
    rows = [
        ("a1", "Ann.Lee@Example.com", "+1 (206) 555-0100", "Ann", "Lee", dt.date(1980, 1, 2),
         "F", "Seattle", "WA", "98101", "US"),
        ("a2", "bob@example.com", None, "Bob", "Ray", dt.date(1975, 5, 6), "m", "Portland",
         "Oregon", "97201-1234", "US"),
        ("a3", None, "020 7946 0958", "Cleo", "Ng", None, None, "London", None, "SW1A 1AA",
         "GB"),
        ("a4", "  dee@example.org ", "5035550199", "Dee", "Oh", dt.date(1990, 12, 31), "female",
         "Austin", "TX", "73301", "US"),
        ("a5", None, None, "Eve", "Poe", None, None, None, None, None, None),
        ("a6", "fay@example.net", "+44 20 7946 0000", "Fay", "Qi", dt.date(2001, 7, 4), "x",
         "Leeds", None, "LS1 1UR", "GB"),
    ]
    names = ["amperity_id", "email", "phone", "given_name", "surname", "birthdate", "gender",
             "city", "state", "postal", "country"]
    types = [pa.string(), pa.string(), pa.string(), pa.string(), pa.string(), pa.date32(),
             pa.string(), pa.string(), pa.string(), pa.string(), pa.string()]
    columns = list(zip(*rows, strict=True))
    return pa.table({n: pa.array(c, t) for n, c, t in zip(names, columns, types, strict=True)})


def itemized_transactions() -> pa.Table:
    """Ten line items in seven orders, over two channels and two brands."""
    d = decimal.Decimal
    rows = [
        ("a1", "o1", 2, "p1", _ts(1), d("40.00"), "store", "ACME Essentials", False, False),
        ("a1", "o1", 1, "p2", _ts(1), d("9.99"), "store", "ACME Essentials", False, False),
        ("a2", "o2", 1, "p3", _ts(2), d("15.50"), "web", "ACME Essentials", None, None),
        ("a3", "o3", 3, "p1", _ts(3), d("60.00"), "store", "Other Brand", False, False),
        ("a4", "o4", 1, "p4", _ts(4), d("120.00"), "store", "ACME Essentials", False, True),
        ("a4", "o4", 2, "p5", _ts(4), d("30.00"), "store", "ACME Essentials", False, False),
        ("a5", "o5", 1, "p2", _ts(5), d("9.99"), "web", "Other Brand", True, False),
        ("a6", "o6", 4, "p6", _ts(6), d("80.00"), "store", "ACME Essentials", False, False),
        ("a6", "o6", 1, "p1", _ts(6), d("20.00"), "store", "ACME Essentials", False, False),
        ("a2", "o7", 0, "p3", _ts(30), d("0.00"), "web", "ACME Essentials", False, False),
    ]
    names = ["amperity_id", "order_id", "item_quantity", "product_id", "order_datetime",
             "item_revenue", "purchase_channel", "purchase_brand", "is_cancellation",
             "is_return"]
    types = [pa.string(), pa.string(), pa.int32(), pa.string(), pa.timestamp("us"),
             pa.decimal128(12, 2), pa.string(), pa.string(), pa.bool_(), pa.bool_()]
    columns = list(zip(*rows, strict=True))
    return pa.table({n: pa.array(c, t) for n, c, t in zip(names, columns, types, strict=True)})


TABLES: dict[str, Callable[[], pa.Table]] = {
    "Customer_360": customer_360,
    "Unified_Itemized_Transactions": itemized_transactions,
}


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string


def job_text(sql: str, destination: str = "jsonl", **settings: Any) -> str:
    """A job file: the ``/* offramp ... */`` header, then ``sql``."""
    lines = ["/* offramp", f"destination = {_toml(destination)}", "[settings]"]
    lines += [f"{key} = {_toml(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n*/\n" + sql.strip() + "\n"


@dataclass
class ProjectDir:
    """A temporary project folder."""

    root: Path

    @property
    def project(self) -> Project:
        return Project(self.root)

    @property
    def queries(self) -> Path:
        return self.root / "queries"

    @property
    def out(self) -> Path:
        """Where jsonl jobs written by :meth:`jsonl_job` append their events."""
        return self.root / "out" / "events.jsonl"

    def write_job(self, name: str, sql: str, destination: str = "jsonl",
                  **settings: Any) -> Path:
        path = self.queries / f"{name}.sql"
        path.write_text(job_text(sql, destination, **settings), encoding="utf-8")
        return path

    def jsonl_job(self, name: str, sql: str) -> Path:
        """A jsonl job writing to :attr:`out` (an absolute path)."""
        return self.write_job(name, sql, "jsonl", path=str(self.out))

    def events(self) -> list[dict[str, Any]]:
        """What the jsonl jobs wrote so far."""
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line]

    def state_rows(self, job: str, sql: str) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` over the job's state file (attached as ``state``)."""
        from connector.engines.warehouse import connect_state

        con = connect_state(self.project.state_path(job))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="session")
def _warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "warehouse.duckdb"
    with WarehouseWriter(Warehouse("duckdb", path)) as writer:
        for table, build in TABLES.items():
            writer.replace(table, build(), where={})
    return path


@pytest.fixture
def project(tmp_path: Path, _warehouse_template: Path) -> ProjectDir:
    """A project with ``warehouse.duckdb`` (the default warehouse) and ``queries/``."""
    root = tmp_path / "proj"
    (root / "queries").mkdir(parents=True)
    shutil.copyfile(_warehouse_template, root / "warehouse.duckdb")
    return ProjectDir(root)


@pytest.fixture
def parquet_project(tmp_path: Path) -> ProjectDir:
    """The same data as Parquet exports: ``exports/Customer_360.parquet`` and a hive folder
    ``exports/Unified_Itemized_Transactions/purchase_channel=<x>/part-0.parquet``."""
    root = tmp_path / "pq"
    exports = root / "exports"
    (root / "queries").mkdir(parents=True)
    exports.mkdir()
    pq.write_table(customer_360(), exports / "Customer_360.parquet")
    items = itemized_transactions()
    for channel in ("store", "web"):
        part = exports / "Unified_Itemized_Transactions" / f"purchase_channel={channel}"
        part.mkdir(parents=True)
        mask = pc.equal(items.column("purchase_channel"), channel)
        pq.write_table(items.filter(mask).drop_columns(["purchase_channel"]),
                       part / "part-0.parquet")
    (root / "offramp.toml").write_text('[warehouse]\nparquet = "exports"\n')
    return ProjectDir(root)


@pytest.fixture
def registered() -> Iterator[Callable[..., Any]]:
    """``registered(plugin, name=...)`` registers a plugin object (a module or an
    instance with ``@hookimpl`` methods) until the test ends."""
    names: list[str] = []

    def register(plugin: Any, name: str | None = None) -> Any:
        name = name or f"test-plugin-{len(names)}-{id(plugin)}"
        registry.register(plugin, name=name)
        names.append(name)
        return plugin

    yield register
    for name in reversed(names):
        registry.unregister(name)


@dataclass
class Cli:
    """Invokes ``offramp --project <root> ARGS`` in process."""

    root: Path

    def __call__(self, *args: str, env: dict[str, str] | None = None,
                 input: str | None = None) -> Result:  # noqa: A002 - click's name
        runner = CliRunner(env={"COLUMNS": "250", **(env or {})})
        return runner.invoke(cli, ["--project", str(self.root), *args], input=input,
                             catch_exceptions=True)

    def at(self, root: Path) -> Cli:
        return Cli(root)


@pytest.fixture
def cli_runner(project: ProjectDir) -> Cli:
    """``cli_runner("validate", "job")`` runs the CLI against the ``project`` fixture;
    ``cli_runner.at(other_root)`` against another folder."""
    return Cli(project.root)
