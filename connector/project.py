"""A project: a folder with ``queries/`` (saved jobs), an optional ``offramp.toml``,
and ``.offramp/`` (state, locks, spill space).

``offramp.toml`` (all keys optional)::

    [warehouse]
    duckdb = "warehouse.duckdb"     # a DuckDB database file, or
    # parquet = "exports/"          # a folder of Parquet exports, one view per file/folder

    [engine]                        # DuckDB settings for sync queries
    memory_limit = "2GB"
    threads = 2

    [sources.rq]                    # settings of source plugins, by source name
    base_url = "..."

With no ``offramp.toml``, the warehouse is ``warehouse.duckdb`` in the project.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector import config
from connector.engines.warehouse import Warehouse
from connector.kit.errors import ConfigError
from connector.kit.secrets import remember_from_environment

CONFIG = "offramp.toml"
QUERIES = "queries"
DEFAULT_WAREHOUSE = "warehouse.duckdb"
_HEADER = re.compile(r"^\s*/\*\s*offramp\b(?P<toml>.*?)\*/", re.DOTALL)
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand(value: Any, where: str) -> Any:
    """Expand ``${NAME}`` and ``${NAME:-default}`` from the environment in settings,
    so one job serves several environments (for example ``base_url``). Secrets do not
    go this way: they stay in ``*_env`` settings, which name a variable and are never
    expanded (a ``${...}`` there is refused with the fix). Every value read from the
    environment is registered for scrubbing as it is read
    (:func:`connector.kit.secrets.remember_from_environment`): a token put in the wrong
    setting never reaches a message or the state file.

    >>> import os; os.environ["DOC_URL"] = "http://127.0.0.1:9"
    >>> expand({"base_url": "${DOC_URL}/v1", "x": "${UNSET_VAR:-none}"}, "doc")
    {'base_url': 'http://127.0.0.1:9/v1', 'x': 'none'}
    """
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_expanded_name(str(key), item, where)
        return {k: expand(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, where) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        name, default = m.group("name"), m.group("default")
        if name in os.environ:
            remember_from_environment(os.environ[name])
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"{where} uses ${{{name}}}, which is not set: set {name} or write "
                          f"${{{name}:-default}}")

    return _VAR.sub(one, value)


def _refuse_expanded_name(key: str, value: Any, where: str) -> None:
    """A ``*_env`` setting names the variable that holds a secret; expanding ``${NAME}``
    there would put the secret itself where a name belongs (and into messages)."""
    m = _VAR.search(value) if key.endswith("_env") and isinstance(value, str) else None
    if m:
        raise ConfigError(f"setting `{key}` in {where} takes the name of an environment "
                          f"variable, not its value: write {key} = \"{m.group('name')}\"")


@dataclass
class Job:
    """A saved job: ``queries/<name>.sql`` with its TOML header.

    :param destination: the destination's name (``destination = "meta"``).
    :param settings: the raw ``[settings]`` table (validated by the destination).
    :param sql: the query, header removed.
    """

    name: str
    path: Path
    destination: str
    settings: dict[str, Any]
    sql: str
    options: dict[str, Any] = field(default_factory=dict)
    #: the line of the file where :attr:`sql` starts (error messages name file lines)
    sql_line: int = 1


def parse_job(path: Path) -> Job:
    """Read a job file. The header is a block comment opening with ``offramp``::

        /* offramp
        destination = "meta"
        [settings]
        dataset_id = "1234"
        */
        SELECT ...
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the job {path}: {exc.strerror}") from None
    m = _HEADER.match(text)
    if not m:
        raise ConfigError(
            f"{path} has no header: start it with a block comment such as\n"
            '/* offramp\ndestination = "meta"\n[settings]\ndataset_id = "..."\n*/')
    try:
        header = tomllib.loads(m.group("toml"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the header of {path} is not valid TOML: {exc}") from None
    destination = header.pop("destination", None)
    if not isinstance(destination, str) or not destination:
        raise ConfigError(f'the header of {path} must name a destination: destination = "meta"')
    settings = header.pop("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"[settings] in {path} must be a table")
    settings = expand(settings, f"[settings] of {path.name}")
    rest = text[m.end():]
    sql = rest.strip()
    sql_line = text[:m.end()].count("\n") + rest[:rest.find(sql)].count("\n") + 1 if sql else 1
    return Job(name=path.stem, path=path, destination=destination, settings=settings,
               sql=sql, options=header, sql_line=sql_line)


class Project:
    """A project folder. :meth:`find` locates it from the current directory."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        if not self.root.is_dir():
            raise ConfigError(f"the project folder {self.root} does not exist" if not
                              self.root.exists() else f"{self.root} is a file, not a project "
                              "folder")
        config_path = self.root / CONFIG
        raw: dict[str, Any] = {}
        if config_path.is_file():
            try:
                raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{config_path} is not valid TOML: {exc}") from None
        #: ``offramp.toml``, checked (:mod:`connector.config`).
        self.config = config.check(raw, str(config_path))

    @classmethod
    def find(cls, start: Path | str | None = None) -> Project:
        """The nearest folder at or above ``start`` (default: ``OFFRAMP_PROJECT`` or the
        current directory) holding ``offramp.toml`` or ``queries/``; else ``start``."""
        origin = Path(start or os.environ.get("OFFRAMP_PROJECT") or Path.cwd()).resolve()
        for folder in (origin, *origin.parents):
            if (folder / CONFIG).is_file() or (folder / QUERIES).is_dir():
                return cls(folder)
        return cls(origin)

    # -- places ----------------------------------------------------------------------
    @property
    def queries(self) -> Path:
        return self.root / QUERIES

    @property
    def home(self) -> Path:
        """``.offramp/``: state files, locks and spill space."""
        return self.root / ".offramp"

    def state_path(self, job: str) -> Path:
        return self.home / "state" / f"{job}.duckdb"

    def lock_path(self, job: str) -> Path:
        return self.home / "locks" / f"{job}.lock"

    @property
    def spark_work(self) -> Path:
        """Where Spark runs keep their ledger export and outcome files: ``[spark] work_dir``
        in offramp.toml, else ``.offramp/spark`` (one folder per job inside)."""
        work = self.config.spark.work_dir
        return self._path(work) if work else self.home / "spark"

    @property
    def spill(self) -> Path:
        return self.home / "tmp"

    @property
    def warehouse(self) -> Warehouse:
        section = self.config.warehouse
        if section.parquet:
            return Warehouse("parquet", self._path(section.parquet))
        return Warehouse("duckdb", self._path(section.duckdb or DEFAULT_WAREHOUSE))

    @property
    def engine_settings(self) -> dict[str, str]:
        """``[engine]``: DuckDB settings for sync queries."""
        return self.config.engine.duckdb_settings()

    def source_settings(self, name: str) -> dict[str, Any]:
        """``[sources.NAME]``: a source's settings (its plugin validates them)."""
        return dict(self.config.sources.get(name, {}))

    def _path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path

    # -- jobs ------------------------------------------------------------------------
    def job_paths(self) -> list[Path]:
        return sorted(self.queries.glob("*.sql")) if self.queries.is_dir() else []

    def job(self, ref: str) -> Job:
        """A job by name (``meta_offline_events``) or by path to its ``.sql`` file."""
        candidate = Path(ref)
        if candidate.suffix == ".sql" and candidate.is_file():
            job = parse_job(candidate)
        else:
            if not _JOB_NAME.match(ref):
                raise ConfigError(f"{ref!r} is not a job name or a .sql file")
            path = self.queries / f"{ref}.sql"
            if not path.is_file():
                known = ", ".join(p.stem for p in self.job_paths()) or "none"
                raise ConfigError(f"no job named {ref!r} in {self.queries} (jobs: {known})")
            job = parse_job(path)
        if not _JOB_NAME.match(job.name):
            raise ConfigError(f"{job.path.name}: job names use letters, digits, '_', '-', '.'")
        return job
