"""A real Spark standalone cluster loses a worker in the middle of a delivery.

A master and two one-core workers from the pyspark package, on 127.0.0.1; the Meta token
only in the workers' environment (executors inherit it; the driver never has it); the
driver is ``offramp run --engine spark`` in its own process. The executors send to the
Meta emulator through a proxy that slows each answer and counts what it forwards; at the
proxy's ``KILL_AT``-th request the test kills one worker's JVM (SIGKILL): its executor and
Python workers die with it, Spark re-runs what was lost on the other worker.

Asserted: nothing lost (every event DuckDB delivers for the same job reached the API), the
ledger equal to DuckDB's (keys, statuses, fingerprints), and the events sent twice within
``RESEND_BOUND`` (documented in docs/spark.md: what was in flight on the lost worker, and
what the attempts Spark gave up on sent before they heard of it).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from connector.project import Project
from connector.run import pipeline
from plugins.meta.emulator import MetaEmulator
from tests.spark.cluster import CountingProxy, StandaloneCluster, java_available
from tests.spark.spark_support import (
    ENV,
    JOB,
    build_parquet_warehouse,
    ledger,
    make_project,
    rows,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

ORDERS = 16_000
#: Concurrency 2 over 2 partitions: one request at a time per partition. The job's window
#: (its query's and Meta's) is widened to 62 days: about 12,600 delivered, 14 requests.
CONCURRENCY = 2
#: Seconds the proxy holds each request: a partition's delivery lasts several seconds.
DELAY = 0.4
#: The request at which one worker is killed (of 14, 7 per partition).
KILL_AT = 5
#: Events sent twice at most: the lost worker's request in flight (one, 1,000 events) and,
#: for the other worker's attempt if Spark fails it too, the requests it sends before the
#: driver's mark reaches it (one in flight, one more at most).
RESEND_BOUND = 3_000
#: Spark settings small enough for a 2-core machine.
SPARK_CONF = {
    "spark.executor.memory": "512m", "spark.driver.memory": "768m", "spark.cores.max": "2",
    "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4",
    "spark.sql.codegen.wholeStage": "false",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    "spark.executor.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


def _project(root: Path, warehouse: Path, url: str, master: str) -> Path:
    conf = "\n".join(f'"{k}" = "{v}"' for k, v in SPARK_CONF.items())
    return make_project(root, warehouse, url, days=62, concurrency=CONCURRENCY,
                        spark=f'\n[spark]\nmaster = "{master}"\n\n[spark.conf]\n{conf}\n')


def _driver_env() -> dict[str, str]:
    """The driver's environment: which plugins to load and where it listens, no secret."""
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    env.update(OFFRAMP_LOAD_PLUGINS=ENV["OFFRAMP_LOAD_PLUGINS"], SPARK_LOCAL_IP="127.0.0.1",
               PYSPARK_PYTHON=sys.executable)
    return env


def test_a_lost_worker_loses_nothing_and_resends_little(tmp_path, monkeypatch, capsys):
    if not java_available():
        pytest.skip("Java is not installed: the standalone cluster runs on Java 17+")
    warehouse = build_parquet_warehouse(tmp_path / "wh", orders=ORDERS)
    killed = threading.Event()
    worker_env = {**ENV, "PYSPARK_PYTHON": sys.executable}
    with MetaEmulator() as emu, \
            StandaloneCluster(tmp_path / "cluster", worker_env=worker_env) as cluster:

        def kill(n: int) -> None:
            if n == KILL_AT and not killed.is_set():
                cluster.kill_worker(0)
                killed.set()

        with CountingProxy(emu.url, delay=DELAY, before=kill) as proxy:
            root = _project(tmp_path / "spark", warehouse, proxy.url, cluster.url)
            code, output = _offramp(root, "run", JOB, "--engine", "spark")
        (tmp_path / "driver.log").write_text(output)  # with the cluster's logs, for a failure
        assert code == 0, output[-3000:]
        assert killed.is_set(), (proxy.requests, output[:1500])
        alive = (cluster.state() or {}).get("aliveworkers")
    state = Project(root).state_path(JOB)
    started = rows(state, "SELECT started_at FROM state.runs WHERE run_id = 1")[0][0]

    with MetaEmulator() as on_duckdb:  # the same job at the same time, on DuckDB
        duck = Project(_project(tmp_path / "duck", warehouse, on_duckdb.url, "local[1]"))
        for key, value in ENV.items():
            monkeypatch.setenv(key, value)
        expected = pipeline.run(duck, JOB, now=started.replace(tzinfo=dt.UTC))
        expected_keys = {e["custom_data"]["order_id"] for e in on_duckdb.events()}
    assert expected.status == "succeeded" and expected.counts.delivered > 10_000

    received = {e["custom_data"]["order_id"] for e in emu.events()}
    stats = _stats(expected_keys, received, emu, proxy, state)
    with capsys.disabled():
        print(f"\nlost worker: {stats}")
    assert alive == 1  # the worker really was lost
    assert stats["lost"] == 0
    assert ledger(state) == ledger(duck.state_path(JOB))
    assert stats["resent"] <= RESEND_BOUND, stats
    assert "delivering in 2 partitions, 2 at once, each with concurrency 1" in output


def _offramp(root: Path, *args: str) -> tuple[int, str]:
    """Run the offramp CLI as the driver, in its own process; (exit code, output). A guard
    of 5 minutes (a run takes 1-2 on a 2-core machine, more when it is shared)."""
    process = subprocess.Popen(
        [sys.executable, "-c", "from connector.cli import main; main()", "--project", str(root),
         *args], env=_driver_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return -1, output + "\n(the driver did not finish within 5 minutes: killed)"
    return process.returncode, output


def _stats(expected: set[str], received: set[str], emu: MetaEmulator, proxy: CountingProxy,
           state: Path) -> dict[str, Any]:
    delivered = rows(state, "SELECT delivered FROM state.runs ORDER BY run_id")
    return {"unique": len(received), "lost": len(expected - received),
            "resent": emu.duplicates, "requests": proxy.requests,
            "recorded_delivered": delivered[0][0] if delivered else None}
