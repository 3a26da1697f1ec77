"""What every step of the Meta shaping query reads (:class:`Shaping`: the job's query and
columns, the run's clock, the settings resolved once), and the SQL text helpers the steps
share. The steps themselves are listed in :mod:`plugins.meta.shaping`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from plugins.meta import columns as job_columns


def q(value: str) -> str:
    """``value`` as an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def q_list(values: list[str] | tuple[str, ...]) -> str:
    """``values`` as SQL string literals, comma-separated (for ``IN (...)``)."""
    return ", ".join(q(v) for v in values)


def when_then(mapping: Mapping[str, str]) -> str:
    """``mapping`` as the branches of a ``CASE``: ``WHEN 'key' THEN 'value' ...``."""
    return " ".join(f"WHEN {q(k)} THEN {q(v)}" for k, v in mapping.items())


def epoch(expr: str, dtype: str) -> str:
    """Epoch seconds of ``expr``: a time or date, or a number of seconds (type ``dtype``)."""
    t = dtype.upper()
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"CAST(floor(epoch(CAST({expr} AS TIMESTAMPTZ))) AS BIGINT)"
    return f"TRY_CAST(floor(CAST({expr} AS DOUBLE)) AS BIGINT)"  # epoch seconds


def number(expr: str) -> str:
    """JSON for a number, written as an integer when it is one (2, not 2.0)."""
    return (f"CASE WHEN {expr} = floor({expr}) AND abs({expr}) < 1e15 "
            f"THEN CAST(CAST({expr} AS BIGINT) AS VARCHAR) ELSE to_json({expr}) END")


@dataclass(frozen=True)
class Shaping:
    """What every step reads: the job's query and columns, the run's clock, and each
    setting that changes the SQL, resolved once (:func:`plugins.meta.shaping.context`).
    The steps read nothing else, so this is the whole of what the query depends on."""

    source: str
    """The job's query (a subquery or a view), which ``rows`` reads as ``src``."""
    columns: dict[str, str]
    """The query's columns (any case) and their DuckDB types."""
    now: int
    """The run's clock, in epoch seconds."""
    window_days: int
    """How many days old an event may be (``window_days``)."""
    store_window_days: int
    """How many days old a ``physical_store`` event may be: ``first_send_window_days`` on
    a job's first send, ``window_days`` after it."""
    event_names: Mapping[str, str]
    """Event name -> standard event: RudderStack's defaults, then the job's ``event_names``."""
    routed: bool
    """Whether events go to datasets by their event name (``datasets``)."""
    routes: tuple[tuple[str, str], ...]
    """(event name, dataset id) pairs, in order; event name ``*``: any other event."""
    value_col: str | None
    """The order's value column (``value_column``, or a column named ``value``) as SQL,
    or None: the value is the sum of price x quantity."""
    default_action_source: str
    default_country: str | None
    """The ISO alpha-2 country of rows without a country, as set, or None."""
    default_calling_code: str | None
    """The calling code of :attr:`default_country` for phone numbers, or None."""
    content_types: Mapping[str, str]
    """Category -> ``content_type``; ``product`` for the others."""
    hashing: bool
    """False when the warehouse holds SHA-256 values, which are then sent as they are."""
    ldu: tuple[int, int] | None
    """Limited Data Use's (country, state), or None without Limited Data Use."""

    def col(self, name: str) -> str:
        """The job's column ``name`` (any case) of the row ``src``, or NULL."""
        return job_columns.column(self.columns, name)

    def text_col(self, name: str) -> str:
        """The job's identifier column ``name`` as text (no ".0"), or NULL."""
        return job_columns.text_column(self.columns, name)

    def type_of(self, name: str, default: str = "") -> str:
        """The DuckDB type of column ``name``, upper case; ``default`` without it."""
        return job_columns.column_type(self.columns, name, default)
