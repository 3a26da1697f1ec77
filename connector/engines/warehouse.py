"""Every DuckDB call offramp makes goes through this module (attaching a state file
through :mod:`connector.engines.state_file`, which waits for its lock and explains its
errors).

:class:`Engine` is one DuckDB connection per command: the warehouse (a DuckDB
file attached read-only, or Parquet exports exposed as views), the job's state
file attached read-write, and the configuration locked so that a job's query can
read nothing outside the warehouse, load no extension and change no setting.
:class:`WarehouseWriter` is how sources write into the warehouse, and
:func:`connect_state` opens a state file outside a run.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from connector.engines.state_file import attach_waiting, state_error
from connector.kit.errors import ConfigError

Error = duckdb.Error
#: DuckDB ran out of its memory_limit (a subclass of :data:`Error`).
OutOfMemory = duckdb.OutOfMemoryException
#: DuckDB's memory limit for sync queries unless ``[engine] memory_limit`` says otherwise.
DEFAULT_MEMORY_LIMIT = "2GB"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Warehouse:
    """Where the data lives: ``kind`` is ``"duckdb"`` (a database file) or
    ``"parquet"`` (a folder whose files and sub-folders become views)."""

    kind: str
    path: Path

    def check(self) -> None:
        if self.kind == "duckdb" and not self.path.is_file():
            raise ConfigError(f"the warehouse file {self.path} does not exist: create it, point "
                              "[warehouse] duckdb in offramp.toml at yours, or run `offramp demo`")
        if self.kind == "parquet" and not self.path.is_dir():
            raise ConfigError(f"the Parquet folder {self.path} does not exist: point "
                              "[warehouse] parquet in offramp.toml at your exports")


def quote(name: str) -> str:
    """A DuckDB identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith((".", "_")) for part in path.relative_to(root).parts)


def parquet_sources(folder: Path) -> dict[str, list[Path]]:
    """View name -> the Parquet files behind it, for each Parquet file or folder
    (hive partitions included) directly inside ``folder``. Names starting with
    ``.`` or ``_`` (temporary files, ``_SUCCESS`` markers) are skipped."""
    folder = folder.resolve()
    sources: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if _hidden(entry, folder):
            continue
        if entry.is_file() and entry.suffix == ".parquet":
            sources[entry.stem] = [entry]
        elif entry.is_dir():
            files = sorted(f for f in entry.rglob("*.parquet")
                           if f.is_file() and not _hidden(f, folder))
            if files:
                sources[entry.name] = files
    return sources


def parquet_views(folder: Path) -> dict[str, str]:
    """View name -> ``read_parquet`` expression for each Parquet file or folder
    (hive partitions included) directly inside ``folder``.

    Files are listed one by one rather than globbed, so that the locked engine
    can allow exactly these files and nothing else in the folder.
    """
    views: dict[str, str] = {}
    for view, files in parquet_sources(folder).items():
        if len(files) == 1 and files[0].parent == folder.resolve():
            views[view] = f"read_parquet({literal(str(files[0]))})"
        else:
            listed = ", ".join(literal(str(f)) for f in files)
            views[view] = (f"read_parquet([{listed}], hive_partitioning = true, "
                           "union_by_name = true)")
    return views


class Engine:
    """A locked-down DuckDB connection for one command.

    :param warehouse: the warehouse to read.
    :param state: the state file to attach as ``state`` (read-write), if any.
    :param temp_dir: where DuckDB may spill (default: ``offramp-spill`` in the system's
        temporary folder), kept as :attr:`spill`; the engine may read and write there.
    :param settings: extra DuckDB settings (``memory_limit``, ``threads``).
        ``memory_limit`` defaults to :data:`DEFAULT_MEMORY_LIMIT`: DuckDB's own default
        (80% of the machine) lets a large shaping query grow to many GB, whereas with a
        limit it spills to ``temp_dir`` and memory stays bounded whatever the row count.
        The default leaves room for the part of the shaping that cannot spill and for
        the state file the run writes beside it (docs/benchmarks.md).
    """

    def __init__(self, warehouse: Warehouse, *, state: Path | None = None,
                 temp_dir: Path | None = None, settings: dict[str, Any] | None = None):
        warehouse.check()
        self.warehouse = warehouse
        self.con = duckdb.connect(config={"autoinstall_known_extensions": False,
                                          "autoload_known_extensions": False})
        # What the locked connection may touch: the warehouse's own files (read-only
        # by attachment, or because every other statement is refused by sql_check)
        # and the spill folder. Not the folder around them: that holds jobs, state
        # files and whatever else the user keeps next to the warehouse.
        allowed: list[str] = []
        paths: list[str] = []
        try:
            self._run("SET TimeZone = 'UTC'")
            if warehouse.kind == "duckdb":
                self._run(f"ATTACH {literal(str(warehouse.path))} AS wh (READ_ONLY)")
                self._run("USE wh")
                db = str(warehouse.path.resolve())
                paths += [db, db + ".wal"]
            else:
                for view, expr in parquet_views(warehouse.path).items():
                    self._run(f"CREATE VIEW {quote(view)} AS SELECT * FROM {expr}")
                paths += [str(f) for files in parquet_sources(warehouse.path).values()
                          for f in files]
            if state is not None:
                state.parent.mkdir(parents=True, exist_ok=True)
                self._attach_state(state)
            temp = temp_dir or Path(tempfile.gettempdir()) / "offramp-spill"
            temp.mkdir(parents=True, exist_ok=True)
            self.spill = temp
            self._run(f"SET temp_directory = {literal(str(temp))}")
            allowed.append(str(temp.resolve()) + os.sep)
            for key, value in {"memory_limit": DEFAULT_MEMORY_LIMIT, **(settings or {})}.items():
                self._setting(key, str(value))
            listed = ", ".join(literal(a) for a in allowed)
            self._run(f"SET allowed_directories = [{listed}]")
            if paths:
                self._run(f"SET allowed_paths = [{', '.join(literal(p) for p in paths)}]")
            self._run("SET enable_external_access = false")
            self._run("SET lock_configuration = true")
        except duckdb.Error as exc:
            self.con.close()
            raise ConfigError(f"could not open the warehouse {warehouse.path}: {exc}") from None

    def _run(self, sql: str) -> None:
        self.con.execute(sql).fetchall()

    def _setting(self, key: str, value: str) -> None:
        """``SET key = value`` for one ``[engine]`` setting; DuckDB refusing the value is
        the setting's fault, not the warehouse's."""
        try:
            self._run(f"SET {key} = {literal(value)}")
        except duckdb.Error as exc:
            self.con.close()
            raise ConfigError(f"offramp.toml: [engine] {key} = {value!r} was refused by "
                              f"DuckDB: {str(exc).splitlines()[0]}") from None

    def _attach_state(self, state: Path) -> None:
        try:
            attach_waiting(self.con, f"ATTACH {literal(str(state))} AS state")
        except duckdb.Error as exc:
            self.con.close()
            raise state_error(state, exc) from None

    def interrupt(self) -> None:
        """Ask the running query to stop. DuckDB may refuse while the connection is
        between calls ("busy"): callers that must stop it repeat the request."""
        try:
            self.con.interrupt()
        except duckdb.Error:
            pass

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A second connection on the same database, already in the warehouse schema."""
        cur = self.con.cursor()
        if self.warehouse.kind == "duckdb":
            cur.execute("USE wh").fetchall()
        return cur

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------
    def schema(self) -> dict[str, dict[str, str]]:
        """table or view name -> {column: DuckDB type}, for the warehouse's tables."""
        catalog = "wh" if self.warehouse.kind == "duckdb" else "memory"
        rows = self.con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = ? AND table_schema = 'main' "
            "ORDER BY table_name, ordinal_position",
            [catalog]).fetchall()
        out: dict[str, dict[str, str]] = {}
        for table, column, dtype in rows:
            out.setdefault(table, {})[column] = dtype
        return out

    def source(self, sql: str) -> str:
        """Expose a job's query as the temporary view ``offramp_source`` and return its
        name, for a destination's shaping SQL to read. A view is bound on its own, so
        the shaping SQL's CTE names can never capture the query's table names."""
        self._run(f"CREATE OR REPLACE TEMP VIEW offramp_source AS {sql}")
        return "offramp_source"

    def describe(self, sql: str) -> dict[str, str]:
        """The output columns of ``sql`` and their types, without running it."""
        rows = self.con.execute(f"DESCRIBE {sql}").fetchall()
        return {row[0]: row[1] for row in rows}

    def stream(self, sql: str, params: list[Any] | None = None,
               batch_size: int = 8192) -> pa.RecordBatchReader:
        """Run ``sql`` and stream its result as Arrow record batches (none for a
        statement without a result, such as ``CREATE TEMP VIEW``)."""
        rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        if rel is None:
            return pa.RecordBatchReader.from_batches(pa.schema([]), [])
        return rel.to_arrow_reader(batch_size)

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run a statement, or a small query, and return its rows (for counts and
        metadata only)."""
        return self.con.execute(sql, params or []).fetchall()

    def table(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run a small query (a preview, a listing) and return its result as a table."""
        rel = self.con.sql(sql, params=params) if params else self.con.sql(sql)
        return rel.to_arrow_table() if rel is not None else pa.table({})

    @contextmanager
    def registered(self, name: str, data: Any) -> Iterator[str]:
        """``data`` (an Arrow table or record-batch reader) readable as the view ``name``
        for the block."""
        self.con.register(name, data)
        try:
            yield name
        finally:
            self.con.unregister(name)


class WarehouseWriter:
    """Writes tables into the warehouse for sources (never used by jobs).

    In a DuckDB warehouse, :meth:`replace` deletes the window's rows and inserts the
    new ones in one transaction. In a Parquet warehouse, each window is one file
    ``<table>/<key>.parquet``, replaced atomically.
    """

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        if warehouse.kind == "duckdb":
            warehouse.path.parent.mkdir(parents=True, exist_ok=True)
            self.con: duckdb.DuckDBPyConnection | None = duckdb.connect(str(warehouse.path))
        else:
            warehouse.path.mkdir(parents=True, exist_ok=True)
            self.con = None

    def close(self) -> None:
        if self.con is not None:
            self.con.close()

    def __enter__(self) -> WarehouseWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def replace(self, table: str, data: pa.Table, *, where: dict[str, Any]) -> int:
        """Replace the rows of ``table`` matching ``where`` (column -> value) with ``data``.

        ``data`` must carry the ``where`` columns. Creates the table on first use.
        Returns the number of rows written.
        """
        if not _IDENT.match(table) or not all(_IDENT.match(c) for c in where):
            raise ConfigError(f"not a plain table or column name: {table} {list(where)}")
        if self.con is None:
            key = "__".join(f"{c}={_slug(v)}" for c, v in where.items()) or "all"
            folder = self.warehouse.path / table
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f".{key}.parquet.tmp"
            pq.write_table(data, tmp)
            os.replace(tmp, folder / f"{key}.parquet")
            return data.num_rows
        con = self.con
        con.register("_incoming", data)
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(f"CREATE TABLE IF NOT EXISTS {quote(table)} AS "
                        "SELECT * FROM _incoming LIMIT 0")
            cond = " AND ".join(f"{quote(c)} IS NOT DISTINCT FROM ?" for c in where) or "TRUE"
            con.execute(f"DELETE FROM {quote(table)} WHERE {cond}", list(where.values()))
            con.execute(f"INSERT INTO {quote(table)} BY NAME SELECT * FROM _incoming")
            con.execute("COMMIT")
        except duckdb.Error:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("_incoming")
        return data.num_rows


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(value)).strip("-") or "none"


def connect_state(path: Path, *, write: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection of its own with a job's state file attached as ``state``: read-only,
    or read-write (created when missing) with ``write=True``. The state package wraps it
    (:func:`connector.state.files.open_state`)."""
    if not write and not path.is_file():
        raise ConfigError(f"no state yet at {path}: the job has not run")
    con = duckdb.connect()
    try:
        if write:
            path.parent.mkdir(parents=True, exist_ok=True)
        mode = "" if write else " (READ_ONLY)"
        sql = f"ATTACH {literal(str(path))} AS state{mode}"
        if write:
            attach_waiting(con, sql)
        else:  # a reader asks once: a run holds the file for as long as it runs
            con.execute(sql).fetchall()
    except duckdb.Error as exc:
        con.close()
        raise state_error(path, exc) from None
    return con
