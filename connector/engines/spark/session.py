"""Apache Spark as a run's engine: the session, the warehouse's views, the SQL.

Every pyspark import of offramp is here or in the function
:func:`connector.engines.spark.delivery.task` runs on executors. pyspark is an
optional extra (``pip install offramp[spark]``): importing this module works without
it; :func:`session` says how to install it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.engines.spark.sql.transpile import to_spark
from connector.engines.warehouse import Warehouse
from connector.kit.errors import ConfigError, OfframpError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Spark settings every offramp session runs with (set at runtime, so they also apply
#: to a session the caller built): UTC like DuckDB's engine, ANSI semantics (a failed
#: CAST raises, as in DuckDB), Arrow batches of a bounded size.
RUNTIME_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "10000",
}
#: A log4j2 configuration that logs errors only, for Spark's JVMs (``session(quiet=True)``).
QUIET_LOG4J = Path(__file__).with_name("log4j2-quiet.properties")
#: The view the job's (transpiled) query is registered as; the shaping SQL reads it.
SOURCE_VIEW = "offramp_source"
SHAPED_VIEW = "offramp_shaped"
LEDGER_VIEW = "offramp_ledger"
INSTALL = "install the Spark extra: pip install 'offramp[spark]' (pyspark>=4.3,<5 and pandas<3)"


def session(master: str | None = None, conf: dict[str, str] | None = None,
            quiet: bool = True) -> SparkSession:
    """A Spark session: ``master`` (``local[2]``, ``spark://host:7077``, ``yarn`` ...) or
    Spark's own default; executors use this interpreter unless ``PYSPARK_PYTHON`` says
    otherwise. ``quiet``: Spark's JVMs log errors only (:data:`QUIET_LOG4J`), not their
    start-up banner and warnings, which would drown offramp's own lines."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(f"--engine spark needs pyspark: {INSTALL}") from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("offramp")
    if master:
        builder = builder.master(master)
    settings = {"spark.ui.showConsoleProgress": "false", **(conf or {})}
    if quiet:
        option = f"-Dlog4j2.configurationFile={QUIET_LOG4J.as_uri()}"
        for key in ("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"):
            settings[key] = f"{settings[key]} {option}" if key in settings else option
    # offramp prints its own progress lines; Spark's console bar would garble them
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    configure(spark)
    return spark


def delivery_slots(spark: SparkSession, wait: float = 30.0) -> int:
    """How many tasks the cluster runs at once now: the executors' cores over
    ``spark.task.cpus`` (Spark's own count, ``maxNumConcurrentTasks``), waiting up to
    ``wait`` seconds for a first executor to register. ``defaultParallelism`` is no such
    count: on a standalone cluster it is at least 2, even with one core."""
    sc = spark.sparkContext
    try:
        jsc = sc._jsc.sc()
        profile = jsc.resourceProfileManager().defaultResourceProfile()
        deadline = time.monotonic() + wait
        while True:
            slots = int(jsc.maxNumConcurrentTasks(profile))
            if slots or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
    except Exception:  # a Spark without this API: its default parallelism
        slots = 0
    return slots or max(1, sc.defaultParallelism)


def configure(spark: SparkSession) -> None:
    for key, value in RUNTIME_CONF.items():
        spark.conf.set(key, value)


def parquet_tables(folder: Path) -> dict[str, Path]:
    """View name -> Parquet file or folder, named as
    :func:`connector.engines.warehouse.parquet_views` names them (same files, same names,
    same rules)."""
    tables: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and entry.suffix == ".parquet":
            tables[entry.stem] = entry
        elif entry.is_dir() and any(entry.rglob("*.parquet")):
            tables[entry.name] = entry
    return tables


def require_parquet(warehouse: Warehouse) -> None:
    """Refuse a DuckDB-file warehouse, which Spark cannot read, saying what to do."""
    if warehouse.kind != "parquet":
        raise ConfigError(
            f"--engine spark reads Parquet exports, and this project's warehouse is the DuckDB "
            f"file {warehouse.path}: point [warehouse] parquet in offramp.toml at a folder of "
            "Parquet files (for example `COPY ... TO 'exports/t.parquet'` from DuckDB), or run "
            "with --engine duckdb")


def register_warehouse(spark: SparkSession, warehouse: Warehouse) -> list[str]:
    """Expose each Parquet file or folder of the warehouse as a temp view; returns
    the view names. A DuckDB-file warehouse is refused: Spark cannot read it."""
    require_parquet(warehouse)
    warehouse.check()
    views = []
    for name, path in parquet_tables(warehouse.path).items():
        reader = spark.read.option("pathGlobFilter", "*.parquet").option("mergeSchema", "true")
        if path.is_dir() and not _hive(path):
            reader = reader.option("recursiveFileLookup", "true")
        reader.parquet(str(path)).createOrReplaceTempView(name)
        views.append(name)
    return views


def _hive(folder: Path) -> bool:
    """True when every sub-folder is a ``key=value`` partition (Spark discovers them)."""
    subdirs = [p for p in folder.rglob("*") if p.is_dir()]
    return all("=" in p.name for p in subdirs)


def functions(spark: SparkSession) -> set[str]:
    """The names of the session's SQL functions, for the transpile step's check."""
    return {row[0].split(".")[-1] for row in spark.sql("SHOW FUNCTIONS").collect()}


class Plan:
    """A job's SQL on Spark: the transpiled query and shaping, and their notes."""

    def __init__(self, spark: SparkSession, job_sql: str, shape: Any, destination: str):
        """:param shape: ``shape(source)`` returns the destination's DuckDB shaping SQL
        over the relation named ``source``."""
        known = functions(spark)
        query = to_spark(job_sql, what="the job's query", functions=known)
        shaping = to_spark(shape(SOURCE_VIEW), what=f"the {destination} destination's shaping "
                           "SQL", functions=known)
        self.spark = spark
        self.notes = [f"transpile (the job's query): {n}" for n in query.notes] + \
                     [f"transpile ({destination} shaping): {n}" for n in shaping.notes]
        self.query_sql, self.shape_sql = query.sql, shaping.sql

    def events(self, ledger: Path, *, full: bool, resend_changed: bool,
               unique_keys: bool = False) -> DataFrame:
        """The diffed events, as a DataFrame (lazy): the core's own ledger diff
        (:func:`connector.run.pipeline.diff_sql`), transpiled, over the shaped view and the
        exported ledger."""
        from connector.run.pipeline import diff_sql

        spark = self.spark
        try:
            spark.sql(self.query_sql).createOrReplaceTempView(SOURCE_VIEW)
            spark.read.parquet(str(ledger)).createOrReplaceTempView(LEDGER_VIEW)
            shaped = spark.sql(self.shape_sql)  # analysed once: big plans take seconds
            shaped.createOrReplaceTempView(SHAPED_VIEW)
        except Exception as exc:
            raise OfframpError(f"Spark refused the transpiled SQL: {_first_line(exc)}") from None
        diff = to_spark(diff_sql(
            f"SELECT * FROM {SHAPED_VIEW}", shaped.columns, full=full, failed_first=False,
            resend_changed=resend_changed, unique_keys=unique_keys,
            ledger=f"SELECT event_key, fingerprint, status, route FROM {LEDGER_VIEW}"),
            what="the ledger diff")
        self.notes += [f"transpile (ledger diff): {n}" for n in diff.notes]
        try:
            return spark.sql(diff.sql)
        except Exception as exc:
            raise OfframpError(f"Spark refused the transpiled SQL: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return spark_error(exc)


def spark_error(exc: BaseException) -> str:
    """One telling line for a Spark failure: the Java exception's message rather than
    py4j's "An error occurred while calling ...", the last line of a Python worker's
    traceback rather than its banner."""
    java = getattr(exc, "java_exception", None)
    text = (str(java) if java is not None else str(exc)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if any(line.startswith("Traceback") for line in lines):
        return lines[-1]
    return lines[0]
