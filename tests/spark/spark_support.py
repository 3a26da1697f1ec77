"""Helpers for the Spark tests: a Parquet demo warehouse, projects running the Meta
demo job against a given emulator, and readers of a job's state file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from connector.engines.warehouse import Warehouse, WarehouseWriter, connect_state
from plugins.google.emulator import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REFRESH_TOKEN,
)
from plugins.meta.demo import DATASET, TOKEN
from plugins.meta.demo_data import build_demo_warehouse, demo_query

JOB = "meta_offline_events"
HEADER = """/* offramp
destination = "meta"

[settings]
dataset_id = "{dataset}"
access_token_env = "META_ACCESS_TOKEN"
base_url = "{url}"
default_country = "US"
*/
"""
#: The environment of the executors, set before the JVM starts (they inherit the JVM's, and
#: one JVM serves every Spark test of a worker): the Meta token, the google job's OAuth
#: client (the Data Manager emulator's), and the plugins to load.
ENV = {"META_ACCESS_TOKEN": TOKEN, "OFFRAMP_LOAD_PLUGINS": "jsonl,meta,google",
       "GOOGLE_ADS_CLIENT_ID": DEFAULT_CLIENT_ID, "GOOGLE_ADS_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
       "GOOGLE_ADS_REFRESH_TOKEN": DEFAULT_REFRESH_TOKEN}


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def build_parquet_warehouse(folder: Path, orders: int) -> Path:
    """The demo tables as of today (UTC), one Parquet folder per table."""
    with WarehouseWriter(Warehouse("parquet", folder)) as writer:
        build_demo_warehouse(writer, orders=orders, today=utc_today())
    return folder


def make_project(root: Path, warehouse: Path, url: str, *, duckdb_file: bool = False,
                 days: int = 7, concurrency: int | None = None, spark: str = "") -> Path:
    """A project whose warehouse is ``warehouse`` (Parquet) and whose Meta demo job
    sends to ``url``. ``days`` widens the job's window (its query's and Meta's: 62 makes
    about 0.8 events per order); ``spark`` is appended to offramp.toml."""
    (root / "queries").mkdir(parents=True, exist_ok=True)
    kind = "duckdb" if duckdb_file else "parquet"
    (root / "offramp.toml").write_text(f'[warehouse]\n{kind} = "{warehouse}"\n{spark}')
    header = HEADER.format(dataset=DATASET, url=url)
    if days != 7:
        header = header.replace("*/", f"window_days = {days}\n*/")
    if concurrency is not None:
        header = header.replace("*/", f"concurrency = {concurrency}\n*/")
    query = demo_query().replace("interval '7' day", f"interval '{days}' day")
    (root / "queries" / f"{JOB}.sql").write_text(header + query.strip() + "\n")
    return root


def rows(state: Path, sql: str) -> list[tuple[Any, ...]]:
    con = connect_state(state)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def ledger(state: Path) -> dict[str, tuple[str, str]]:
    """event_key -> (status, fingerprint), the latest of each event."""
    return {k: (s, f) for k, s, f in rows(state, (
        "SELECT event_key, arg_max(status, seq), arg_max(fingerprint, seq) "
        "FROM state.ledger GROUP BY event_key"))}


def rejects(state: Path, run_id: int) -> set[tuple[str, str, str]]:
    return set(rows(state, "SELECT event_key, stage, reason FROM state.rejects "
                           f"WHERE run_id = {int(run_id)}"))


def by_order(events: list[dict[str, Any]]) -> dict[str, str]:
    """Each accepted event, keyed by its order id, as canonical JSON text."""
    return {e["custom_data"]["order_id"]: json.dumps(e, sort_keys=True) for e in events}
