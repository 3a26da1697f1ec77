"""The Meta shaping SQL as it was before the benchmark's optimizations (main at c7432fb).

Frozen here so that ``test_bench_shaping_equivalence.py`` can prove the optimized
``plugins/meta/shaping.py`` produces byte-identical events, reject reasons and keys.

One deliberate change since: a rejected line that has no product id (a return) or no
order id is keyed by its position among such lines of its order (of the run, for
missing order ids), not by its row number in the whole result. The row number needed
a window over every row, which made DuckDB hold the whole result (the 1M-line
benchmark wrote 1.2 GB to disk for it); both numberings follow the scan order.

Two more since, for the grouping's cost (a list of each line's values cost twice what
a list of its JSON text does at 10M line items):

* ``contents`` lists the items in the byte order of their JSON text, not by product id,
  quantity and price (which left ties in no defined order and sorted quantity 12 after
  2; the text sorts it first);
* custom event names are sent (only names over Meta's 50 characters are rejected), and
  a website event no longer needs an event_id column (it defaults to the order id);
* the mixed-currencies reason names the order's smallest and largest currency: the
  same text when there are two, the first and last of three or more.
"""

from __future__ import annotations

import datetime as dt

from connector import ConfigError
from connector.kit import pii
from plugins.meta.settings import ACTION_SOURCES, DEFAULT_EVENT_NAMES, MAX_EVENT_NAME, MetaSettings

#: Customer fields read from the query, in order.
PROFILE = ("email", "phone", "given_name", "surname", "birthdate", "gender", "city", "state",
           "postal", "country", "external_id", "client_user_agent", "fbc", "fbp", "madid")


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _list(values: list[str] | tuple[str, ...]) -> str:
    return ", ".join(_q(v) for v in values)


def _epoch(expr: str, dtype: str) -> str:
    t = dtype.upper()
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"CAST(floor(epoch(CAST({expr} AS TIMESTAMPTZ))) AS BIGINT)"
    return f"TRY_CAST(floor(CAST({expr} AS DOUBLE)) AS BIGINT)"  # epoch seconds


#: DuckDB types whose text has a fraction part ("42.0").
_FRACTIONAL = ("FLOAT", "DOUBLE", "REAL", "DECIMAL", "NUMERIC")


def _number(expr: str) -> str:
    """JSON for a number, written as an integer when it is one (2, not 2.0)."""
    return (f"CASE WHEN {expr} = floor({expr}) AND abs({expr}) < 1e15 "
            f"THEN CAST(CAST({expr} AS BIGINT) AS VARCHAR) ELSE to_json({expr}) END")


def shape_sql(source: str, columns: dict[str, str], s: MetaSettings, now: dt.datetime,
              first_send: bool) -> str:
    have = {c.lower(): c for c in columns}

    def col(name: str) -> str:
        return f'src."{have[name]}"' if name in have else "NULL"

    def fractional(name: str) -> bool:
        return columns.get(have.get(name, ""), "").upper().startswith(_FRACTIONAL)

    def text_col(name: str) -> str:
        """An identifier column as text; whole numbers stored as DOUBLE or DECIMAL lose
        their ".0" (phone 6505551212.0 is 6505551212, order 42.0 is "42")."""
        expr = col(name)
        if not fractional(name):
            return expr
        return (f"CASE WHEN {expr} = floor({expr}) AND abs({expr}) < 1e18 "
                f"THEN CAST(CAST({expr} AS HUGEINT) AS VARCHAR) ELSE CAST({expr} AS VARCHAR) END")

    birthdate_type = ("VARCHAR" if fractional("birthdate")
                      else columns.get(have.get("birthdate", ""), "VARCHAR"))
    value_name = (s.value_column or "value").lower()
    value_col = col(value_name) if value_name in have else None
    if s.value_column and value_col is None:
        raise ConfigError(f"value_column = {s.value_column!r} is not a column of the query "
                          f"(its columns: {', '.join(columns)}): add it to the SELECT or "
                          "remove the setting")
    now_s = int(now.timestamp())
    window = s.window_days * 86400
    first_window = (s.first_send_window_days if first_send else s.window_days) * 86400
    names = {**DEFAULT_EVENT_NAMES, **s.event_names}
    name_map = " ".join(f"WHEN {_q(k)} THEN {_q(v)}" for k, v in names.items())
    default_cc = pii.calling_code(s.default_country) if s.default_country else None
    default_country = _q(s.default_country.lower()) if s.default_country else "NULL"
    content_map = " ".join(f"WHEN {_q(k)} THEN {_q(v)}" for k, v in s.content_types.items())
    if s.datasets:
        pairs = [f"({_q(name)}, {_q(ds)})" for name, ids in s.datasets.items() for ds in ids]
        if s.dataset_id:
            pairs.append(f"('*', {_q(s.dataset_id)})")
        routes = f"routes(event_name, dataset_id) AS (VALUES {', '.join(pairs)})"
        route_join = ("LEFT JOIN routes r ON r.event_name = o.event_name OR (r.event_name = '*' "
                      "AND NOT EXISTS (SELECT 1 FROM routes x WHERE x.event_name = o.event_name))")
        key = "coalesce(r.dataset_id, '-') || ':' || o.order_id"
    else:
        routes = f"routes(event_name, dataset_id) AS (VALUES ('*', {_q(s.dataset_id or '')}))"
        route_join = "CROSS JOIN routes r"
        key = "o.order_id"

    def hashed(raw: str, normalized: str) -> str:
        if s.hashing:
            return pii.hashed(raw, normalized)
        v = f"lower({pii.text(raw)})"
        return f"CASE WHEN regexp_full_match({v}, {pii.HEX64}) THEN {v} END"

    def field(name: str, expr: str, quote: bool = False) -> str:
        value = f"to_json({expr})" if quote else f"'\"' || {expr} || '\"'"
        return f"'\"{name}\":' || {value}"

    country_expr = f"coalesce(ctry.alpha2, {default_country})"
    user_fields = [
        field("em", hashed("u.email", pii.email("u.email"))),
        field("ph", hashed("u.phone", pii.phone("u.phone", "coalesce(ctry.calling_code, "
                                                 f"{_q(default_cc) if default_cc else 'NULL'})"))),
        field("fn", hashed("u.given_name", pii.name("u.given_name"))),
        field("ln", hashed("u.surname", pii.name("u.surname"))),
        field("db", hashed("u.birthdate", pii.birthdate("u.birthdate", birthdate_type))),
        field("ge", hashed("u.gender", pii.gender("u.gender"))),
        field("ct", hashed("u.city", pii.city("u.city"))),
        field("st", hashed("u.state", pii.state("u.state", "sts"))),
        field("zp", hashed("u.postal", pii.postal("u.postal", country_expr))),
        field("country", hashed("u.country", country_expr)),
        field("external_id", hashed("u.external_id", pii.text("u.external_id"))),
        field("client_user_agent", pii.text("u.client_user_agent"), quote=True),
        field("fbc", pii.text("u.fbc"), quote=True),
        field("fbp", pii.text("u.fbp"), quote=True),
        field("madid", pii.text("u.madid"), quote=True),
    ]
    ts_type = columns.get(have.get("timestamp", ""), "TIMESTAMP")
    ldu = (f"'\"data_processing_options\":[\"LDU\"],\"data_processing_options_country\":"
           f"{s.ldu_country},\"data_processing_options_state\":{s.ldu_state}'"
           if s.limited_data_use else "NULL")
    value_expr = ("round(sum(price * quantity), 2)" if value_col is None
                  else "round(min(row_value), 2)")
    value_check = ("" if value_col is None else
                   "WHEN o.min_value IS DISTINCT FROM o.max_value THEN "
                   "'the value column differs between rows of one order' "
                   "WHEN o.min_value IS NULL OR NOT isfinite(o.min_value) THEN "
                   "'value is missing or not a number' ")
    item = ("'{\"id\":' || to_json(product_id) || ',\"quantity\":' || " + _number("quantity")
            + " || ',\"item_price\":' || to_json(round(price, 2))"
            " || coalesce(',\"brand\":' || to_json(brand), '')"
            " || coalesce(',\"category\":' || to_json(category), '') || '}'")
    return f"""
WITH {pii.countries_cte("countries")}, {pii.states_cte("states")}, {routes},
rows AS (
    SELECT
        {pii.text(text_col("order_id"))} AS order_id,
        TRY_CAST({col("quantity")} AS DOUBLE) AS quantity,
        TRY_CAST({col("price")} AS DOUBLE) AS price,
        {f"TRY_CAST({value_col} AS DOUBLE)" if value_col else "NULL::DOUBLE"} AS row_value,
        upper({pii.text(col("currency"))}) AS currency,
        {_epoch(col("timestamp"), ts_type)} AS event_time,
        {pii.text(text_col("product_id"))} AS product_id,
        {pii.text(col("brand"))} AS brand,
        {pii.text(col("category"))} AS category,
        coalesce(lower({pii.text(col("action_source"))}),
                 {_q(s.default_action_source)}) AS action_source,
        coalesce({pii.text(col("event_name"))}, 'Purchase')
            AS raw_event_name,
        {pii.text(text_col("event_id"))} AS event_id,
        {pii.text(col("event_source_url"))} AS event_source_url,
        {", ".join(f"{text_col(name)} AS {name}" for name in PROFILE)},
        row_number() OVER () AS row_no
    FROM {source} AS src
),
returns AS (
    SELECT order_id || '/' || coalesce(product_id, 'row' || row_number() OVER (
               PARTITION BY order_id ORDER BY row_no)) AS event_key,
           'quantity <= 0 (return or cancellation): line item not sent' AS reject_reason
    FROM rows WHERE order_id IS NOT NULL AND quantity <= 0
),
orders AS (
    SELECT
        order_id,
        count(*) AS source_rows,
        min(event_time) AS event_time,
        {value_expr} AS value,
        min(row_value) AS min_value,
        max(row_value) AS max_value,
        min(currency) AS currency,
        count(DISTINCT currency) AS currencies,
        min(currency) || ', ' || max(currency) AS currency_list,
        min(action_source) AS action_source,
        count(DISTINCT action_source) AS action_sources,
        CASE min(raw_event_name) {name_map} ELSE min(raw_event_name) END AS event_name,
        count(DISTINCT CASE raw_event_name {name_map} ELSE raw_event_name END) AS event_names,
        min(event_id) AS event_id,
        min(event_source_url) AS event_source_url,
        min(category) AS category,
        count(*) FILTER (WHERE quantity IS NULL OR NOT isfinite(quantity) OR quantity > 1e7)
            AS missing_quantity,
        count(*) FILTER (WHERE isfinite(quantity) AND quantity <> floor(quantity))
            AS fractional_quantity,
        count(*) FILTER (WHERE price IS NULL OR NOT isfinite(price) OR abs(price) > 1e9)
            AS bad_price,
        sum(quantity)::DOUBLE AS num_items,
        string_agg({item}, ',' ORDER BY {item}) FILTER (WHERE product_id IS NOT NULL)
            AS contents,
        {", ".join(f"min({name}) AS {name}" for name in PROFILE)}
    FROM rows
    WHERE order_id IS NOT NULL AND (quantity > 0 OR quantity IS NULL)
    GROUP BY order_id
),
users AS (
    SELECT {", ".join(f"u.{name}" for name in PROFILE)},
        '{{' || concat_ws(',', {", ".join(user_fields)}) || '}}' AS user_data
    FROM (SELECT DISTINCT {", ".join(PROFILE)} FROM orders) AS u
    LEFT JOIN countries ctry ON ctry.key = {pii.country_key("u.country")}
    LEFT JOIN states sts ON sts.key = {pii.state_key("u.state")}
),
events AS (
    SELECT
        {key} AS event_key,
        r.dataset_id AS route,
        o.source_rows,
        CASE
            WHEN o.event_time IS NULL THEN 'timestamp is missing or not a time'
            WHEN o.missing_quantity > 0 THEN 'quantity is missing, not a finite number, or absurd'
            WHEN o.fractional_quantity > 0 THEN 'quantity must be a whole number of units '
                 || '(Meta''s contents.quantity is an integer)'
            WHEN o.bad_price > 0 THEN 'price is missing, not a finite number, or absurd'
            {value_check}
            WHEN o.currencies > 1 THEN 'mixed currencies in one order (' || o.currency_list || ')'
            WHEN o.currency IS NULL OR NOT {pii.currency_ok("o.currency")}
                THEN 'currency ' || coalesce('''' || o.currency || '''', 'NULL')
                     || ' is not an ISO 4217 code'
            WHEN o.action_sources > 1 THEN 'more than one action_source in one order'
            WHEN o.event_names > 1 THEN 'more than one event_name in one order'
            WHEN o.action_source NOT IN ({_list(ACTION_SOURCES)})
                THEN 'action_source ''' || o.action_source || ''' is not one of '
                     || {_q(", ".join(ACTION_SOURCES))}
            WHEN length(o.event_name) > {MAX_EVENT_NAME}
                THEN 'event_name is longer than the {MAX_EVENT_NAME} characters Meta accepts: '
                     || 'shorten it or map it with [settings] event_names'
            WHEN r.dataset_id IS NULL THEN 'no dataset mapped for event_name ''' || o.event_name
                || ''': add it to [settings] datasets'
            WHEN o.action_source = 'website' AND (o.client_user_agent IS NULL
                 OR o.event_source_url IS NULL)
                THEN 'website events need client_user_agent and event_source_url'
            WHEN position('"em":' IN u.user_data) = 0 AND position('"ph":' IN u.user_data) = 0
                THEN 'no usable email or phone (missing or invalid after normalization)'
            WHEN o.event_time > {now_s + 60}
                THEN 'event_time is in the future'
            WHEN o.event_time < {now_s} - CASE WHEN o.action_source = 'physical_store'
                 THEN {first_window} ELSE {window} END
                THEN 'older than the ' || CASE WHEN o.action_source = 'physical_store'
                     THEN {first_window // 86400} ELSE {window // 86400} END
                     || '-day window Meta accepts'
        END AS reject_reason,
        '{{' || concat_ws(',',
            '"event_name":' || to_json(o.event_name),
            '"event_time":' || o.event_time,
            '"action_source":' || to_json(o.action_source),
            '"event_id":' || to_json(coalesce(o.event_id, o.order_id)),
            '"event_source_url":' || to_json(o.event_source_url),
            '"user_data":' || u.user_data,
            '"custom_data":{{' || concat_ws(',',
                '"value":' || to_json(o.value),
                '"currency":' || to_json(o.currency),
                '"order_id":' || to_json(o.order_id),
                '"num_items":' || {_number("o.num_items")},
                '"content_type":' || to_json(
                    {f"CASE o.category {content_map} ELSE 'product' END" if content_map
                     else "'product'"}),
                '"contents":[' || o.contents || ']') || '}}',
            {ldu}) || '}}' AS payload
    FROM orders o
    JOIN users u ON {" AND ".join(f"u.{n} IS NOT DISTINCT FROM o.{n}" for n in PROFILE)}
    {route_join}
)
SELECT event_key, route, payload, reject_reason, source_rows
FROM events
UNION ALL
SELECT event_key, NULL, NULL, reject_reason, 1 FROM returns
UNION ALL
SELECT 'row' || row_number() OVER (ORDER BY row_no) || ':no-order-id', NULL, NULL,
       'order_id is missing', 1
FROM rows WHERE order_id IS NULL
"""
