"""The DuckDB SQL that turns a job's rows into IQM events.

Two shapes, one per mode:

* ``assign``: one event per distinct campaign id (``event_key`` = the id,
  payload ``{"campaign_id": 123}``); with ``mirror = true`` one more event,
  routed ``"mirror"``, carrying every valid id of the query: its payload changes,
  and it is delivered, whenever the query's set of campaigns changes.
* ``events``: one event per order (``event_key`` = ``order_id``), line items
  summed (``value``, else ``price * quantity``), payload
  ``{"order_id": "...", "cv": "12.50"}``: what the pixel fire sends. Rejected
  orders keep their payload when it can be built, so that an order delivered
  before and rejected now (it aged out of ``max_age_days``) counts as unchanged.

Everything here is SQL text; the core runs it.
"""

from __future__ import annotations

import datetime as dt

from connector.kit import ValidationError, pii
from connector.kit.sql import shown
from plugins.iqm.settings import IqmSettings

MIRROR_KEY = "__mirror__"
MIRROR_ROUTE = "mirror"
_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", "UHUGEINT"}
_FRACTIONAL = {"FLOAT", "DOUBLE", "DECIMAL", "REAL"}
_TIMESTAMPS = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE", "DATETIME"}
_TZ = {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"}
# Reasons show a value only in the shape the column expects: never what may be customer
# data written to the wrong column (an email, a phone number).
_ID = shown("raw_id", "A-Za-z0-9.-", 9, quote=False)
_CODE = shown("cur", "A-Za-z", 3, quote=False)
_CODES = shown("curs", "A-Z, ", 30, quote=False)


def quote(name: str) -> str:
    """A DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def base_type(duckdb_type: str) -> str:
    """``DECIMAL(18,2)`` -> ``DECIMAL``."""
    return duckdb_type.split("(")[0].strip().upper()


def as_utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC, without tzinfo (naive moments are taken as UTC already)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def utc_literal(moment: dt.datetime) -> str:
    """A TIMESTAMP literal for ``moment`` in UTC."""
    return f"TIMESTAMP '{as_utc(moment).isoformat(sep=' ')}'"


# -- assign mode -------------------------------------------------------------------------
def campaign_id_sql(column: str, duckdb_type: str) -> tuple[str, str]:
    """(raw text, BIGINT or NULL when not a whole number) expressions for a campaign id."""
    col = f"src.{quote(column)}"
    raw = f"CAST({col} AS VARCHAR)"
    kind = base_type(duckdb_type)
    if kind in _INTEGER:
        return raw, f"TRY_CAST({col} AS BIGINT)"
    if kind in _FRACTIONAL:
        return raw, (f"CASE WHEN {col} = trunc({col}) AND abs({col}) < 1e18 "
                     f"THEN CAST({col} AS BIGINT) END")
    text = f"trim({raw})"
    return raw, (f"CASE WHEN regexp_full_match({text}, '[+-]?[0-9]{{1,18}}') "
                 f"THEN CAST({text} AS BIGINT) END")


def assign_sql(source: str, columns: dict[str, str], settings: IqmSettings,
               now: dt.datetime) -> str:
    """Events for ``mode = "assign"``."""
    if "campaign_id" not in columns:
        raise ValidationError(["mode = \"assign\" needs a `campaign_id` column (the IQM campaign "
                               "to assign the conversion to)"])
    raw, number = campaign_id_sql("campaign_id", columns["campaign_id"])
    sql = f"""
WITH raw AS (
    SELECT {raw} AS raw_id, {number} AS campaign_id FROM {source} AS src
),
valid AS (
    SELECT DISTINCT campaign_id FROM raw WHERE campaign_id > 0
),
bad AS (
    SELECT DISTINCT raw_id, campaign_id FROM raw WHERE campaign_id IS NULL OR campaign_id <= 0
)
SELECT CAST(campaign_id AS VARCHAR) AS event_key, CAST(NULL AS VARCHAR) AS route,
       CAST(json_object('campaign_id', campaign_id) AS VARCHAR) AS payload,
       CAST(NULL AS VARCHAR) AS reject_reason
FROM valid
UNION ALL
SELECT 'invalid:' || coalesce(raw_id, '(null)'), NULL, NULL,
       CASE WHEN raw_id IS NULL OR trim(raw_id) = '' THEN 'campaign_id is missing'
            WHEN campaign_id IS NULL
                THEN 'campaign_id ' || {_ID} || ' is not a whole number (an IQM campaign id)'
            ELSE 'campaign_id ' || {_ID} || ' must be a positive number' END
FROM bad"""
    if settings.mirror:
        sql += f"""
UNION ALL
SELECT {literal(MIRROR_KEY)}, {literal(MIRROR_ROUTE)},
       CASE WHEN count(*) > 0 THEN CAST(json_object(
           'campaign_ids', list(campaign_id ORDER BY campaign_id)) AS VARCHAR) END,
       CASE WHEN count(*) = 0 THEN 'the query returned no valid campaign id: mirror refuses to '
           || 'remove the conversion from every campaign; check the query' END
FROM valid"""
    return sql.strip()


# -- events mode -------------------------------------------------------------------------
def timestamp_sql(column: str, duckdb_type: str) -> str:
    """A UTC TIMESTAMP (or NULL) from a timestamp, date, epoch-seconds or text column."""
    col = f"src.{quote(column)}"
    kind = base_type(duckdb_type)
    if duckdb_type.upper() in _TZ:
        return f"timezone('UTC', {col})"
    if kind in _TIMESTAMPS:
        return f"CAST({col} AS TIMESTAMP)"
    if kind in _INTEGER or kind in _FRACTIONAL:
        return f"CASE WHEN {col} BETWEEN 0 AND 1e11 THEN timezone('UTC', to_timestamp({col})) END"
    return f"timezone('UTC', TRY_CAST(CAST({col} AS VARCHAR) AS TIMESTAMPTZ))"


def value_sql(columns: dict[str, str]) -> str:
    """A line's value: ``value``, else ``price * quantity`` (quantity 1 when absent)."""
    def dec(name: str) -> str:
        return f"TRY_CAST(src.{quote(name)} AS DECIMAL(38,6))"

    line = None
    if "price" in columns:
        quantity = dec("quantity") if "quantity" in columns else "1"
        line = f"{dec('price')} * {quantity}"
    if "value" in columns:
        return f"coalesce({dec('value')}, {line})" if line else dec("value")
    assert line is not None
    return line


def events_sql(source: str, columns: dict[str, str], settings: IqmSettings,
               now: dt.datetime) -> str:
    """Events for ``mode = "events"``: one pixel fire per order."""
    problems = []
    if "order_id" not in columns:
        problems.append("mode = \"events\" needs an `order_id` column (one pixel fire per order)")
    if "timestamp" not in columns:
        problems.append("mode = \"events\" needs a `timestamp` column (when the order was placed)")
    if "value" not in columns and "price" not in columns:
        problems.append("mode = \"events\" needs a `value` column, or `price` (and `quantity`)")
    if problems:
        raise ValidationError(problems)
    currency = literal(settings.currency)
    if "currency" in columns:
        text = f"nullif(trim(CAST(src.{quote('currency')} AS VARCHAR)), '')"
        cur = f"upper(coalesce({text}, {currency}))"
    else:
        cur = currency
    now_sql = utc_literal(now)
    days = settings.max_age_days
    return f"""
WITH line AS (
    SELECT nullif(trim(CAST(src.{quote('order_id')} AS VARCHAR)), '') AS order_id,
           {timestamp_sql('timestamp', columns['timestamp'])} AS ts,
           {value_sql(columns)} AS v,
           {cur} AS cur
    FROM {source} AS src
),
orders AS (
    SELECT order_id, max(ts) AS ts, sum(v) AS value, count(*) - count(v) AS missing_values,
           count(DISTINCT cur) AS currencies, min(cur) AS cur,
           string_agg(DISTINCT cur, ', ' ORDER BY cur) AS curs
    FROM line GROUP BY order_id
),
checked AS (
    SELECT *, CAST(round(value, 2) AS DECIMAL(38,2)) AS cv, CASE
        WHEN order_id IS NULL THEN 'order_id is missing'
        WHEN ts IS NULL THEN 'timestamp is missing or not a valid time'
        WHEN ts > {now_sql} + INTERVAL 5 MINUTE
            THEN 'timestamp ' || strftime(ts, '%Y-%m-%dT%H:%M:%SZ') || ' is in the future'
        WHEN ts < {now_sql} - INTERVAL {days} DAY
            THEN 'the order is older than {days} days (max_age_days): IQM records a pixel fire '
                 || 'at the time it is sent'
        WHEN missing_values > 0
            THEN 'a line of this order has no value: set value, or price and quantity'
        WHEN currencies > 1 THEN 'the order mixes currencies (' || {_CODES} || ')'
        WHEN NOT {pii.currency_ok('cur')}
            THEN 'currency ' || {_CODE} || ' is not an ISO 4217 code'
        WHEN cur <> {currency}
            THEN 'currency ' || {_CODE} || ' is not ' || {currency}
                 || ' (the currency setting): convert the value in SQL'
        WHEN round(value, 2) <= 0
            THEN 'value must be positive (got ' || CAST(round(value, 2) AS VARCHAR) || ')'
    END AS reject_reason
    FROM orders
)
SELECT coalesce(order_id, 'missing-order-id') AS event_key, CAST(NULL AS VARCHAR) AS route,
       CASE WHEN order_id IS NOT NULL AND cv IS NOT NULL THEN CAST(json_object(
           'order_id', order_id, 'cv', CAST(cv AS VARCHAR)) AS VARCHAR) END AS payload,
       reject_reason
FROM checked""".strip()


def shape_sql(source: str, columns: dict[str, str], settings: IqmSettings,
              now: dt.datetime) -> str:
    """The SQL for the job's mode."""
    if settings.mode == "assign":
        return assign_sql(source, columns, settings, now)
    return events_sql(source, columns, settings, now)
