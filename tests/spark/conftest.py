"""Fixtures of the Spark tests.

``spark`` starts one local[2] session per test module (about 12 s with Java 17), with
the environment the executors need (the Meta token, which plugins to load) set
before the JVM starts: executors inherit the JVM's environment, not later changes.
Without pyspark the fixture raises, so Spark tests fail rather than skip: CI
installs the extra (``pip install 'offramp[spark]'``). The transpile and delivery
unit tests do not use it and need no pyspark.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.spark.spark_support import ENV, build_parquet_warehouse


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise RuntimeError("pyspark is not installed: the Spark tests need the Spark extra, "
                           "pip install -e '.[spark]' (pyspark>=4.3,<5, pandas<3) and Java "
                           "17+") from None
    from connector.engines.spark.session import session

    saved = {k: os.environ.get(k) for k in (*ENV, "PYSPARK_PYTHON", "SPARK_LOCAL_IP")}
    # SPARK_LOCAL_IP: without it the driver binds to a non-loopback address (with a warning)
    os.environ.update(ENV, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    spark = session("local[2]", {
        "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4", "spark.driver.memory": "1g",
        # Short runs on small data: quick JIT and no whole-stage code generation halve
        # the first run (25 s -> 12 s here); real workloads keep Spark's defaults.
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
        "spark.sql.codegen.wholeStage": "false",
        # A task Spark kills keeps its Python worker this long (default 2 s): as long as
        # a failed task's worker, which Spark never kills, so that the tests see offramp's
        # own way of stopping it (test_spark_failures).
        "spark.python.task.killTimeout": "60s"})
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Meta demo tables (2,000 orders, as of today) as a Parquet warehouse."""
    return build_parquet_warehouse(tmp_path_factory.mktemp("spark-wh") / "wh", orders=2000)


@pytest.fixture
def meta_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
