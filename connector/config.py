"""``offramp.toml``: its sections and keys, checked when the project opens.

A typo (``duckb``, ``memory_limt``, a ``[warehous]`` section) is refused with the
nearest valid name rather than ignored, and a value DuckDB would refuse is refused
here, naming the setting, rather than blamed on the warehouse later.

::

    [warehouse]
    duckdb = "warehouse.duckdb"     # a DuckDB database file, or
    # parquet = "exports/"          # a folder of Parquet exports, one view per file/folder

    [engine]                        # DuckDB settings for sync queries
    memory_limit = "2GB"
    threads = 2
    max_temp_directory_size = "50GB"

    [spark]                         # --engine spark
    master = "spark://127.0.0.1:7077"
    work_dir = ".offramp/spark"
    conf = { "spark.executor.memory" = "1g" }

    [sources.rq]                    # settings of source plugins, by source name
    base_url = "..."
"""

from __future__ import annotations

import difflib
from typing import Any

import pydantic

from connector.kit.errors import ValidationError

#: DuckDB sizes: a number and a unit (``2GB``, ``512MB``, ``1.5 GiB``).
SIZE = r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$"


class _Section(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class WarehouseSection(_Section):
    duckdb: str | None = None
    parquet: str | None = None

    @pydantic.model_validator(mode="after")
    def _one(self) -> WarehouseSection:
        if self.duckdb and self.parquet:
            raise ValueError("[warehouse] sets both duckdb and parquet: keep one")
        return self


class EngineSection(_Section):
    memory_limit: str | None = pydantic.Field(None, pattern=SIZE)
    threads: int | None = pydantic.Field(None, ge=1, le=1024)
    max_temp_directory_size: str | None = pydantic.Field(None, pattern=SIZE)

    def duckdb_settings(self) -> dict[str, str]:
        """The settings given, as DuckDB's ``SET`` takes them."""
        return {k: str(v) for k, v in self.model_dump(exclude_none=True).items()}


class SparkSection(_Section):
    master: str | None = None
    work_dir: str | None = None
    conf: dict[str, str | int | float | bool] = {}


class Config(_Section):
    warehouse: WarehouseSection = WarehouseSection()
    engine: EngineSection = EngineSection()
    spark: SparkSection = SparkSection()
    sources: dict[str, dict[str, Any]] = {}


def check(data: dict[str, Any], file: str) -> Config:
    """``data`` (the parsed TOML of ``file``) as a :class:`Config`; a
    :class:`ValidationError` names every key at fault and what to write instead."""
    try:
        return Config.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError([_problem(error, file) for error in exc.errors()]) from None


def _problem(error: Any, file: str) -> str:
    loc = [str(part) for part in error["loc"]]
    where = ("[" + loc[0] + "]" + (f" {'.'.join(loc[1:])}" if len(loc) > 1 else "")
             if loc else "the file")
    if error["type"] == "extra_forbidden":
        known = _fields(loc[:-1])
        near = difflib.get_close_matches(loc[-1], known, n=1, cutoff=0.6)
        kind = "section" if len(loc) == 1 else "key"
        hint = f"; did you mean {_name([near[0]]) if len(loc) == 1 else f'`{near[0]}`'}?" \
            if near else f" (valid: {', '.join(_name([k]) if len(loc) == 1 else k for k in known)})"
        return f"{file}: unknown {kind} {_name(loc)}{hint}"
    if error["type"] == "string_pattern_mismatch":
        return (f"{file}: {where} = {error.get('input')!r} is not a size: write a number and "
                'a unit, such as "2GB" or "512MB"')
    if error["type"] in ("greater_than_equal", "less_than_equal"):
        bound = error["ctx"].get("ge", error["ctx"].get("le"))
        side = "at least" if error["type"] == "greater_than_equal" else "at most"
        return f"{file}: {where} must be {side} {bound}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{file}: {message}" if message.startswith("[") else f"{file}: {where}: {message}"


def _fields(loc: list[str]) -> list[str]:
    model: Any = Config
    for part in loc:
        field = model.model_fields.get(part)
        if field is None or not isinstance(field.annotation, type) or \
                not issubclass(field.annotation, pydantic.BaseModel):
            return []
        model = field.annotation
    return list(model.model_fields)


def _name(loc: list[str]) -> str:
    return f"[{loc[0]}]" if len(loc) == 1 else f"`{loc[-1]}` in [{'.'.join(loc[:-1])}]"
