"""What the notebooks share: a demo project per notebook, the Meta emulator, figure export.

Each notebook works in its own project under ``notebooks/demo/`` (or
``$OFFRAMP_NOTEBOOK_DIR``, which the tests point at a temporary folder): an
``offramp.toml`` pointing at a shared demo warehouse (``demo/warehouse.duckdb``, built
by :func:`plugins.meta.demo_data.build_demo_warehouse` when missing or built on another
day) and the saved Meta job ``queries/meta_offline_events.sql``, the one ``offramp demo``
saves. The repository's own ``warehouse.duckdb`` is never used.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import connector
from connector.engines.warehouse import Warehouse, WarehouseWriter
from plugins.meta.demo import JOB, TOKEN, job_text
from plugins.meta.demo_data import build_demo_warehouse
from plugins.meta.emulator import MetaEmulator

__all__ = ["JOB", "TOKEN", "demo_project", "export_figure", "start_meta_emulator"]

HERE = Path(__file__).resolve().parent
#: Orders in the demo warehouse: small, so that the notebooks run in seconds.
DEFAULT_ORDERS = 3000


def notebook_dir() -> Path:
    """Where the demo projects live: ``$OFFRAMP_NOTEBOOK_DIR`` or ``notebooks/demo``."""
    return Path(os.environ.get("OFFRAMP_NOTEBOOK_DIR") or HERE / "demo").resolve()


def demo_warehouse(orders: int | None = None) -> Path:
    """The shared demo warehouse, built when missing or built for another day or size
    (the Meta job only sends the last 7 days, counted from today)."""
    orders = orders or int(os.environ.get("OFFRAMP_DEMO_ORDERS") or DEFAULT_ORDERS)
    path = notebook_dir() / "warehouse.duckdb"
    marker = path.with_suffix(".built")
    today = dt.datetime.now(dt.UTC).date()
    stamp = f"{today.isoformat()} {orders}"
    if path.is_file() and marker.is_file() and marker.read_text().strip() == stamp:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_name(path.name + ".wal"), marker):
        stale.unlink(missing_ok=True)
    with WarehouseWriter(Warehouse("duckdb", path)) as writer:
        build_demo_warehouse(writer, orders=orders, today=today)
    marker.write_text(stamp + "\n")
    return path


def demo_project(name: str, *, orders: int | None = None,
                 own_warehouse: bool = False) -> connector.ProjectHandle:
    """The notebook's project ``<notebook_dir>/<name>``, with the saved Meta job and an
    empty ledger (every run of a notebook starts from scratch, as ``offramp demo`` does).

    :param own_warehouse: work on a fresh copy of the demo warehouse, for notebooks that
        change its data.
    """
    warehouse = demo_warehouse(orders)
    root = notebook_dir() / name
    shutil.rmtree(root / ".offramp", ignore_errors=True)
    (root / "queries").mkdir(parents=True, exist_ok=True)
    if own_warehouse:
        copy = root / "warehouse.duckdb"
        copy.with_name(copy.name + ".wal").unlink(missing_ok=True)
        shutil.copyfile(warehouse, copy)
        warehouse = copy
    (root / "offramp.toml").write_text(
        f'[warehouse]\nduckdb = "{os.path.relpath(warehouse, root)}"\n', encoding="utf-8")
    (root / "queries" / f"{JOB}.sql").write_text(job_text(), encoding="utf-8")
    return connector.open_project(root)


def start_meta_emulator(**options: Any) -> MetaEmulator:
    """Start Meta's Conversions API emulator on 127.0.0.1 and point the job at it
    (``META_BASE_URL``, ``META_ACCESS_TOKEN``). Stop it with ``.stop()``."""
    emulator = MetaEmulator(tokens={TOKEN}, **options)
    emulator.start()
    os.environ.update(META_BASE_URL=emulator.url, META_ACCESS_TOKEN=TOKEN)
    return emulator


def export_figure(figure: Any, name: str) -> Path | None:
    """Save ``figure`` as ``$OFFRAMP_EXPORT_DIR/<name>`` when that is set (``python
    notebooks/render.py`` sets it to ``docs/``); otherwise do nothing."""
    folder = os.environ.get("OFFRAMP_EXPORT_DIR")
    if not folder:
        return None
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    return path
