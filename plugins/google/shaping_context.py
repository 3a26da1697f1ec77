"""What every step of the google shaping query reads (:class:`Shaping`: the job's query
and columns, the run's clock, the settings resolved once), and the SQL text helpers the
steps share. The steps are listed in :mod:`plugins.google.shaping`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connector.kit.sql import literal
from plugins.google import columns as job_columns

q = literal


def epoch(expr: str, dtype: str) -> str:
    """Epoch seconds of ``expr``: a time or date, or a number of seconds (type ``dtype``)."""
    t = dtype.upper()
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"CAST(floor(epoch(CAST({expr} AS TIMESTAMPTZ))) AS BIGINT)"
    return f"TRY_CAST(floor(CAST({expr} AS DOUBLE)) AS BIGINT)"


def number(expr: str) -> str:
    """JSON for a number, written as an integer when it is one (2, not 2.0)."""
    return (f"CASE WHEN {expr} = floor({expr}) AND abs({expr}) < 1e15 "
            f"THEN CAST(CAST({expr} AS BIGINT) AS VARCHAR) ELSE to_json({expr}) END")


@dataclass(frozen=True)
class Shaping:
    """What every step reads, resolved once (:func:`plugins.google.shaping.context`)."""

    source: str
    """The job's query (a subquery or a view), which ``rows`` reads as ``src``."""
    columns: dict[str, str]
    """The query's columns (any case) and their DuckDB types."""
    now: int
    """The run's clock, in epoch seconds."""
    max_age_days: int
    default_action: str | None
    """``conversion_action_id``: the route of rows without a conversion_action."""
    actions: Mapping[str, str]
    """``conversion_actions``: column values (names) -> conversion action ids."""
    event_source: str
    default_country: str | None
    """The ISO alpha-2 country (lower case) of rows without one, or None."""
    default_calling_code: str | None
    encoding: str
    """``HEX`` or ``BASE64``: how the SHA-256 digests are written."""
    ad_user_data: str | None
    """The job's default ad-user-data consent (``CONSENT_GRANTED``/``_DENIED``) or None."""
    consent_required: bool

    def col(self, name: str) -> str:
        """The job's column ``name`` (any case) of the row ``src``, or NULL."""
        return job_columns.column(self.columns, name)

    def text_col(self, name: str) -> str:
        """The job's identifier column ``name`` as text (no ".0"), or NULL."""
        return job_columns.text_column(self.columns, name)

    def has(self, name: str) -> bool:
        return job_columns.named(self.columns, name) is not None

    def type_of(self, name: str, default: str = "") -> str:
        return job_columns.column_type(self.columns, name, default)
