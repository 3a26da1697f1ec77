"""The Meta shaping SQL exactly as ``plugins/meta/shaping.py`` wrote it before it was
split into named steps (commit f3e1d69), frozen here only to prove that the steps compose
the same text: ``test_meta_shaping_steps.py`` compares the two, character for character.

Not used by offramp and not to be edited: the text is fingerprinted by incremental runs,
so the steps must keep writing it as this function did. Only this module's composition is
frozen: it still calls the live helpers (``connector.kit.pii``, ``plugins.meta.columns``,
``plugins.meta.settings``), so a change there changes both texts alike. The benchmark's
``tests/bench/reference_shaping.py`` is a different, older reference (of the events, not
the text). The comments and docstrings below are the original's. One deliberate change
since: reject reasons echo a column's value only through ``connector.kit.sql.shown``
(never customer data), in both texts alike.
Another, where a rule changed: ``users`` groups each customer's rows with the time of
its first event, so that a birthdate after it is left out (issue 24); custom event names
are sent (only names over Meta's 50 characters are rejected), and a website event no
longer needs an event_id column (it defaults to the order id).
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from connector import ConfigError
from connector.kit import pii
from connector.kit.sql import shown as _shown
from plugins.meta import columns as job_columns
from plugins.meta.columns import PROFILE, column_type, customer_hashes, order_key
from plugins.meta.settings import ACTION_SOURCES, DEFAULT_EVENT_NAMES, MAX_EVENT_NAME, MetaSettings
from plugins.meta.shaping_users import FIRST_EVENT_DATE

#: The values reject reasons may show (connector.kit.sql.shown).
_MIXED = (f"{_shown('o.currency', 'A-Za-z', 3, False)} || ', ' || "
          f"{_shown('o.last_currency', 'A-Za-z', 3, False)}")
_CURRENCY = _shown("o.currency", "A-Za-z", 3)
_ACTION = _shown("o.action_source", "a-z_", 30)
_EVENT = _shown("o.event_name")

#: The reject reasons that the run's clock alone can change (``reject_timed``): an order
#: from the future becomes sendable, and the window is longer before the first send.
FUTURE = "event_time is in the future"
TOO_OLD = "older than the "
#: The reject of an order whose rows name different customers.
SPANNING = ("the rows of this order carry different customer fields (email, phone, name, "
            "address or ids): give every row of one order the same customer")


def _q(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _list(values: list[str] | tuple[str, ...]) -> str:
    return ", ".join(_q(v) for v in values)


def _epoch(expr: str, dtype: str) -> str:
    t = dtype.upper()
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"CAST(floor(epoch(CAST({expr} AS TIMESTAMPTZ))) AS BIGINT)"
    return f"TRY_CAST(floor(CAST({expr} AS DOUBLE)) AS BIGINT)"  # epoch seconds


def _number(expr: str) -> str:
    """JSON for a number, written as an integer when it is one (2, not 2.0)."""
    return (f"CASE WHEN {expr} = floor({expr}) AND abs({expr}) < 1e15 "
            f"THEN CAST(CAST({expr} AS BIGINT) AS VARCHAR) ELSE to_json({expr}) END")


#: One item of ``contents``, from a line item's values: built for each row and
#: collected by the grouping as text. ``contents`` lists them in the byte order of this
#: text, which is deterministic (equal texts are equal items) and needs no sort keys in
#: the grouping's state.
_ITEM = ("'{\"id\":' || to_json(product_id) || ',\"quantity\":' || " + _number("quantity")
         + " || ',\"item_price\":' || to_json(round(price, 2))"
         " || coalesce(',\"brand\":' || to_json(brand), '')"
         " || coalesce(',\"category\":' || to_json(category), '') || '}'")


def _pretrimmed(sql: str, alias: str) -> str:
    """``sql`` reading ``{alias}.t_<field>`` (each customer field already passed through
    :func:`connector.kit.pii.text`, once per customer) wherever it would trim the field again:
    ``pii.text`` is idempotent, so the result is the same, with a fraction of the regular
    expressions. The SHA-256 pass-through check also skips values that are not 64
    characters long before running its regular expression."""
    for name in PROFILE:
        trimmed = f"{alias}.t_{name}"
        sql = sql.replace(pii.text(f"{alias}.{name}"), trimmed)
        check = f"regexp_full_match({trimmed}, {pii.HEX64})"
        sql = sql.replace(check, f"(length({trimmed}) = 64 AND {check})")
    return sql


def shape_sql(source: str, columns: dict[str, str], s: MetaSettings, now: dt.datetime,
              first_send: bool) -> str:
    col, text_col = partial(job_columns.column, columns), partial(job_columns.text_column, columns)
    birthdate_type = ("VARCHAR" if job_columns.fractional(columns, "birthdate")
                      else column_type(columns, "birthdate", "VARCHAR"))
    value_name = (s.value_column or "value").lower()
    value_col = col(value_name) if column_type(columns, value_name) else None
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
        route_join = ("LEFT JOIN routes r ON o.kept AND o.order_id IS NOT NULL AND ("
                      "r.event_name = o.event_name OR (r.event_name = '*' AND NOT EXISTS ("
                      "SELECT 1 FROM routes x WHERE x.event_name = o.event_name)))")
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
        field("db", hashed("u.birthdate", pii.birthdate("u.birthdate", birthdate_type,
                                                        FIRST_EVENT_DATE))),
        field("ge", hashed("u.gender", pii.gender("u.gender"))),
        field("ct", hashed("u.city", pii.city("u.city"))),
        field("st", hashed("u.state", pii.state("u.state", "sts"))),
        field("zp", hashed("u.postal", pii.postal("u.postal", country_expr,
                                                  numeric=job_columns.numeric(columns, "postal")))),
        field("country", hashed("u.country", country_expr)),
        field("external_id", hashed("u.external_id", pii.text("u.external_id"))),
        field("client_user_agent", pii.text("u.client_user_agent"), quote=True),
        field("fbc", pii.text("u.fbc"), quote=True),
        field("fbp", pii.text("u.fbp"), quote=True),
        field("madid", pii.text("u.madid"), quote=True),
    ]
    ts_type = column_type(columns, "timestamp", "TIMESTAMP")
    ldu = (f"'\"data_processing_options\":[\"LDU\"],\"data_processing_options_country\":"
           f"{s.ldu_country},\"data_processing_options_state\":{s.ldu_state}'"
           if s.limited_data_use else "NULL")
    value_expr = ("round(sum(price * quantity), 2)" if value_col is None
                  else "round(min(row_value), 2)")
    purchase = _q(names.get("Purchase", "Purchase"))  # the event name without the column

    def agg(aggregate: str, column: str | None, constant: str) -> str:
        """``aggregate`` per order, or ``constant`` when the job has no such ``column``:
        an aggregate over a constant still costs the grouping a pass over every row (at
        10M line items, 7 of them cost about 5 CPU s)."""
        return aggregate if column not in (None, "NULL") else constant

    value_check = ("" if value_col is None else
                   "WHEN o.min_value IS DISTINCT FROM o.max_value THEN "
                   "'the value column differs between rows of one order' "
                   "WHEN o.min_value IS NULL OR NOT isfinite(o.min_value) THEN "
                   "'value is missing or not a number' ")
    return f"""
WITH {pii.countries_cte("countries")}, {pii.states_cte("states")}, {routes},
rows AS (
    SELECT
        {order_key(columns)} AS order_id,
        TRY_CAST({col("quantity")} AS DOUBLE) AS quantity,
        coalesce(TRY_CAST({col("quantity")} AS DOUBLE) > 0, TRUE) AS kept,
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
        {customer_hashes(columns)}
    FROM {source} AS src
),
grouped AS (
    SELECT
        order_id,
        kept OR order_id IS NULL AS kept,
        list({{'product_id': product_id}}) FILTER (WHERE NOT kept) AS returned,
        count(*) AS source_rows,
        min(event_time) AS event_time,
        {value_expr} AS value,
        {agg("min(row_value)", value_col, "NULL::DOUBLE")} AS min_value,
        {agg("max(row_value)", value_col, "NULL::DOUBLE")} AS max_value,
        min(currency) AS currency,
        max(currency) AS last_currency,
        {agg("min(action_source)", col("action_source"), _q(s.default_action_source))}
            AS action_source,
        {agg("max(action_source)", col("action_source"), _q(s.default_action_source))}
            AS last_action_source,
        {agg(f"CASE min(raw_event_name) {name_map} ELSE min(raw_event_name) END",
             col("event_name"), purchase)} AS event_name,
        {agg(f"min(CASE raw_event_name {name_map} ELSE raw_event_name END)",
             col("event_name"), purchase)} AS first_mapped_name,
        {agg(f"max(CASE raw_event_name {name_map} ELSE raw_event_name END)",
             col("event_name"), purchase)} AS last_mapped_name,
        {agg("min(event_id)", col("event_id"), "NULL::VARCHAR")} AS event_id,
        {agg("min(event_source_url)", col("event_source_url"), "NULL::VARCHAR")}
            AS event_source_url,
        {agg("min(category)", col("category"), "NULL::VARCHAR")} AS category,
        count(*) FILTER (WHERE quantity IS NULL OR NOT isfinite(quantity) OR quantity > 1e7)
            AS missing_quantity,
        count(*) FILTER (WHERE isfinite(quantity) AND quantity <> floor(quantity))
            AS fractional_quantity,
        count(*) FILTER (WHERE price IS NULL OR NOT isfinite(price) OR abs(price) > 1e9)
            AS bad_price,
        sum(quantity)::DOUBLE AS num_items,
        list({_ITEM}) FILTER (WHERE kept AND product_id IS NOT NULL) AS items,
        min(customer) AS customer, max(customer) AS last_customer,
        min(customer_check) AS customer_check, max(customer_check) AS last_customer_check
    FROM rows
    GROUP BY order_id, kept OR order_id IS NULL
),
users AS (
    SELECT u.customer, u.customer_check, u.client_user_agent,
        '{{' || concat_ws(',', {_pretrimmed(", ".join(user_fields), "u")}) || '}}' AS user_data
    FROM (SELECT p.*, {", ".join(f"{pii.text(f'p.{name}')} AS t_{name}" for name in PROFILE)}
          FROM (SELECT customer, customer_check, {", ".join(PROFILE)},
                min(event_time) AS first_event_time
                FROM rows WHERE order_id IS NOT NULL AND kept GROUP BY ALL) AS p) AS u
    LEFT JOIN countries ctry ON ctry.key = {_pretrimmed(pii.country_key("u.country"), "u")}
    LEFT JOIN states sts ON sts.key = {_pretrimmed(pii.state_key("u.state"), "u")}
),
events AS (
    SELECT
        {key} AS event_key,
        r.dataset_id AS route,
        o.source_rows,
        o.order_id,
        o.kept,
        o.returned,
        CASE
            WHEN o.event_time IS NULL THEN 'timestamp is missing or not a time'
            WHEN o.missing_quantity > 0 THEN 'quantity is missing, not a finite number, or absurd'
            WHEN o.fractional_quantity > 0 THEN 'quantity must be a whole number of units '
                 || '(Meta''s contents.quantity is an integer)'
            WHEN o.bad_price > 0 THEN 'price is missing, not a finite number, or absurd'
            {value_check}
            WHEN o.currency <> o.last_currency THEN 'mixed currencies in one order ('
                || {_MIXED} || ')'
            WHEN o.currency IS NULL OR NOT {pii.currency_ok("o.currency")}
                THEN 'currency ' || {_CURRENCY}
                     || ' is not an ISO 4217 code'
            WHEN o.action_source <> o.last_action_source
                THEN 'more than one action_source in one order'
            WHEN o.first_mapped_name <> o.last_mapped_name
                THEN 'more than one event_name in one order'
            WHEN o.action_source NOT IN ({_list(ACTION_SOURCES)})
                THEN 'action_source ' || {_ACTION} || ' is not one of '
                     || {_q(", ".join(ACTION_SOURCES))}
            WHEN length(o.event_name) > {MAX_EVENT_NAME}
                THEN 'event_name is longer than the {MAX_EVENT_NAME} characters Meta accepts: '
                     || 'shorten it or map it with [settings] event_names'
            WHEN r.dataset_id IS NULL THEN 'no dataset mapped for event_name ' || {_EVENT}
                || ': add it to [settings] datasets'
            WHEN o.customer <> o.last_customer OR o.customer_check <> o.last_customer_check
                THEN {_q(SPANNING)}
            WHEN o.action_source = 'website' AND (u.client_user_agent IS NULL
                 OR o.event_source_url IS NULL)
                THEN 'website events need client_user_agent and event_source_url'
            WHEN position('"em":' IN u.user_data) = 0 AND position('"ph":' IN u.user_data) = 0
                THEN 'no usable email or phone (missing or invalid after normalization)'
            WHEN o.event_time > {now_s + 60}
                THEN {_q(FUTURE)}
            WHEN o.event_time < {now_s} - CASE WHEN o.action_source = 'physical_store'
                 THEN {first_window} ELSE {window} END
                THEN {_q(TOO_OLD)} || CASE WHEN o.action_source = 'physical_store'
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
                '"contents":[' || array_to_string(list_sort(o.items), ',') || ']') || '}}',
            {ldu}) || '}}' AS payload
    FROM grouped o
    LEFT JOIN users u ON o.kept AND o.order_id IS NOT NULL AND u.customer = o.customer
        AND u.customer_check = o.customer_check
    {route_join}
)
SELECT
    CASE WHEN i = 0 THEN event_key
         WHEN order_id IS NULL THEN 'row' || i || ':no-order-id'
         ELSE order_id || '/' || coalesce(returned[i].product_id, 'row' || i) END AS event_key,
    CASE WHEN i = 0 THEN route END AS route,
    CASE WHEN i = 0 THEN payload END AS payload,
    CASE WHEN i = 0 THEN reject_reason
         WHEN order_id IS NULL THEN 'order_id is missing'
         ELSE 'quantity <= 0 (return or cancellation): line item not sent' END AS reject_reason,
    CASE WHEN i = 0 THEN source_rows ELSE 1 END AS source_rows,
    order_id AS source_key,
    CASE WHEN i = 0 THEN reject_reason = {_q(FUTURE)} OR starts_with(reject_reason, {_q(TOO_OLD)})
         ELSE FALSE END AS reject_timed
FROM (SELECT *, unnest(CASE WHEN order_id IS NULL
                                 THEN generate_series(1, CAST(source_rows AS INTEGER))
                            WHEN NOT kept THEN generate_series(1, array_length(returned))
                            ELSE [0] END) AS i
      FROM events)
"""
