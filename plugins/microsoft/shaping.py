"""Rows of a job's query -> Microsoft OfflineConversion JSON, in one DuckDB query.

One conversion per order (``order_id``), or per identical identity + name + time
when the query has no order id. Emails and phones are normalized and hashed with
:mod:`connector.kit.pii` (email: trim + lowercase; phone: E.164 ``+<digits>``; both
SHA-256 lowercase hex), so raw PII never leaves DuckDB. Conversions Microsoft
would refuse (older than 90 days, in the future, nothing to match on, bad
currency, no goal name, bad value) are rejected here with a reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from connector.kit import pii
from plugins.microsoft import currencies
from plugins.microsoft.settings import MicrosoftSettings

#: Microsoft refuses conversions older than this (applyofflineconversions.md).
MAX_AGE_DAYS = 90
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# CTE names: unlikely to shadow a table the job's query reads.
COUNTRIES, ROWS, GROUPED = "__offramp_ms_countries", "__offramp_ms_rows", "__offramp_ms_grouped"
_EPOCH_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                "UINTEGER", "UBIGINT", "DOUBLE", "FLOAT", "REAL", "DECIMAL")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def timestamp_sql(expr: str, duckdb_type: str | None) -> str:
    """``expr`` as a naive UTC TIMESTAMP, whatever its type.

    TIMESTAMP columns are taken as UTC; TIMESTAMPTZ ones are converted; DATE is
    midnight UTC; numbers are epoch seconds.
    """
    t = (duckdb_type or "NULL").upper().strip('"')
    base = t.split("(")[0].strip()
    if t == "NULL":
        return "CAST(NULL AS TIMESTAMP)"
    if base == "TIMESTAMP WITH TIME ZONE":
        return f"timezone('UTC', {expr})"
    if base in _EPOCH_TYPES:
        return f"timezone('UTC', to_timestamp(CAST({expr} AS DOUBLE)))"
    return f"CAST({expr} AS TIMESTAMP)"


def shape_sql(settings: MicrosoftSettings, now: dt.datetime, source: str,
              columns: dict[str, str]) -> str:
    """The shaping query: ``event_key, route, payload, reject_reason, source_rows``, one row
    per conversion (``source_rows``: how many query rows it groups). Rejected conversions
    keep their payload: one delivered before with the same payload (since aged past 90
    days, say) then counts as unchanged instead of rejected again.

    :param now: the run's clock; the 90-day window and "in the future" are measured from it.
    """
    def col(name: str) -> str:
        return f"src.{_q(name)}" if name in columns else "NULL"

    now_utc = now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now
    now_sql = f"TIMESTAMP {_lit(now_utc.isoformat(sep=' '))}"
    default_cc = _lit(pii.calling_code(settings.default_country) or "1")
    ctes: list[str] = []
    join = ""
    calling_code = default_cc
    if "country" in columns:
        ctes.append(pii.countries_cte(COUNTRIES))
        join = f"LEFT JOIN {COUNTRIES} ON {COUNTRIES}.key = {pii.country_key(col('country'))}"
        calling_code = f"coalesce({COUNTRIES}.calling_code, {default_cc})"

    name_setting = _lit(settings.conversion_name) if settings.conversion_name else "NULL"
    currency_setting = _lit(settings.currency) if settings.currency else "NULL"
    email, phone = col("email"), col("phone")
    # Normalize per row; hash once per conversion, after grouping (a digest passes through).
    rows = f"""{ROWS} AS (
  SELECT
    {timestamp_sql(col('timestamp'), columns.get('timestamp'))} AS ts,
    {pii.text(col('microsoft_click_id'))} AS click,
    {_digest(email)} AS email_digest,
    {pii.email(email) if 'email' in columns else 'CAST(NULL AS VARCHAR)'} AS email_plain,
    {_digest(phone)} AS phone_digest,
    {"'+' || " + pii.phone(phone, calling_code) if 'phone' in columns
     else 'CAST(NULL AS VARCHAR)'} AS phone_plain,
    coalesce({pii.text(col('conversion_name'))}, {name_setting}) AS name,
    {pii.text(col('order_id'))} AS order_id,
    {_value_sql(columns, col)} AS line_value,
    upper(coalesce({pii.text(col('currency'))}, {currency_setting})) AS currency,
    CAST({col('external_attribution_credit')} AS DOUBLE) AS credit,
    {pii.text(col('external_attribution_model'))} AS model
  FROM {source} AS src {join}
)"""
    identity = ("md5(concat_ws('|', coalesce(click, ''), coalesce(email_digest, email_plain, ''), "
                "coalesce(phone_digest, phone_plain, ''), "
                f"coalesce(strftime(ts, '{TIME_FORMAT}'), '')))")
    grouped = f"""{GROUPED} AS (
  SELECT coalesce(name, '') || '|' || k AS event_key, any_value(name) AS name,
    min(ts) AS ts, max(click) AS click,
    coalesce(max(email_digest), sha256(max(email_plain))) AS email_hash,
    coalesce(max(phone_digest), sha256(max(phone_plain))) AS phone_hash,
    round(sum(line_value), 6) AS value,
    count(DISTINCT currency) AS currencies, max(currency) AS currency,
    max(credit) AS credit, max(model) AS model, count(*) AS source_rows
  FROM (SELECT *, coalesce('order:' || order_id, 'row:' || {identity}) AS k FROM {ROWS})
  GROUP BY name, k
)"""
    ctes += [rows, grouped]
    with_clause = ",\n".join(ctes)
    return f"""WITH {with_clause}
SELECT event_key, CAST(NULL AS VARCHAR) AS route, payload, reason AS reject_reason, source_rows
FROM (SELECT event_key, source_rows, {_reason_sql(now_sql)} AS reason,
        {_payload_sql()} AS payload
      FROM {GROUPED})"""


def _value_sql(columns: dict[str, str], col: Callable[[str], str]) -> str:
    """Each row's value: ``value`` when present, else ``price`` x ``quantity`` (1 if absent)."""
    parts = []
    if "value" in columns:
        parts.append(f"CAST({col('value')} AS DOUBLE)")
    if "price" in columns:
        quantity = f"coalesce(CAST({col('quantity')} AS DOUBLE), 1)"
        parts.append(f"CAST({col('price')} AS DOUBLE) * {quantity}")
    if not parts:
        return "CAST(NULL AS DOUBLE)"
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def _digest(expr: str) -> str:
    """The value itself, lowercased, when it already is a SHA-256 hex digest; else NULL."""
    if expr == "NULL":
        return "CAST(NULL AS VARCHAR)"
    value = pii.text(expr)
    return f"CASE WHEN regexp_full_match({value}, {pii.HEX64}) THEN lower({value}) END"


def _reason_sql(now_sql: str) -> str:
    oldest = f"{now_sql} - INTERVAL {MAX_AGE_DAYS} DAY"
    return f"""CASE
    WHEN ts IS NULL THEN 'timestamp is missing'
    WHEN ts < {oldest} THEN 'conversion time is more than {MAX_AGE_DAYS} days before the run: Microsoft only accepts the last {MAX_AGE_DAYS} days'
    WHEN ts > {now_sql} THEN 'conversion time is in the future'
    WHEN click IS NULL AND email_hash IS NULL AND phone_hash IS NULL THEN 'nothing to match on: no microsoft_click_id and no valid email or phone (Microsoft needs one of them: 5603)'
    WHEN name IS NULL THEN 'no conversion goal name: set conversion_name in [settings] or add a conversion_name column'
    WHEN currencies > 1 THEN 'the rows of this order have different currencies'
{_currency_sql()}
    WHEN value IS NOT NULL AND NOT isfinite(value) THEN 'value is not a finite number'
    WHEN value < 0 THEN 'value is negative: Microsoft refuses negative conversion values'
  END"""  # noqa: E501 - SQL reads better unwrapped


def _currency_sql() -> str:
    """The currency checks: a three-letter code, in Microsoft's conversion currency list
    (:mod:`plugins.microsoft.currencies`). Only a three-letter code is quoted in a reason."""
    listed = ", ".join(_lit(code) for code in sorted(currencies.CONVERSION_CURRENCIES))
    lines = ["    WHEN currency IS NOT NULL AND NOT regexp_full_match(currency, '[A-Z]{3}') "
             "THEN 'the currency is not a three-letter code such as USD'"]
    lines += [f"    WHEN currency = {_lit(code)} THEN {_lit(currencies.problem(code) or '')}"
              for code in sorted(currencies.LISTED_AS)]
    unlisted = _lit(currencies.UNLISTED.replace("{code}", "%s"))
    lines.append(f"    WHEN currency IS NOT NULL AND currency NOT IN ({listed}) THEN "
                 f"printf({unlisted}, currency)")
    return "\n".join(lines)


def _payload_sql() -> str:
    fields = [
        ("MicrosoftClickId", "click"),
        ("ConversionName", "name"),
        ("ConversionTime", f"strftime(ts, '{TIME_FORMAT}')"),
        ("ConversionValue", "value"),
        ("ConversionCurrencyCode", "currency"),
        ("ExternalAttributionCredit", "credit"),
        ("ExternalAttributionModel", "model"),
        ("HashedEmailAddress", "email_hash"),
        ("HashedPhoneNumber", "phone_hash"),
    ]
    parts = ", ".join(f"'\"{key}\":' || to_json({expr})" for key, expr in fields)
    # concat_ws skips NULL members: the SDK omits None fields too (exclude_none=True).
    return f"'{{' || concat_ws(',', {parts}) || '}}'"
