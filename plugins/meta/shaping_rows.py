"""The steps of the Meta shaping query that read the job's rows: ``rows`` types each row's
values, ``grouped`` groups them by order (:mod:`plugins.meta.shaping` lists every step)."""

from __future__ import annotations

from functools import partial

from connector.kit import pii
from plugins.meta.columns import PROFILE, customer_hashes, order_key
from plugins.meta.shaping_context import Shaping, epoch, number, q, when_then

#: Between the columns of a SELECT, one a line.
_NEXT = ",\n        "

#: One item of ``contents``, from a line item's values: built for each row and
#: collected by the grouping as text. ``contents`` lists them in the byte order of this
#: text, which is deterministic (equal texts are equal items) and needs no sort keys in
#: the grouping's state.
ITEM = ("'{\"id\":' || to_json(product_id) || ',\"quantity\":' || " + number("quantity")
        + " || ',\"item_price\":' || to_json(round(price, 2))"
        " || coalesce(',\"brand\":' || to_json(brand), '')"
        " || coalesce(',\"category\":' || to_json(category), '') || '}'")


def rows_cte(ctx: Shaping) -> str:
    """``rows``: each of the job's rows with its values typed and trimmed (text through
    :func:`connector.kit.pii.text`), the order it belongs to, whether it is a kept line
    (quantity > 0 or unknown) and two hashes of its customer fields. The customer fields
    themselves stay raw: ``users`` normalizes each distinct customer once."""
    col, text_col = ctx.col, ctx.text_col
    row_value = f"TRY_CAST({ctx.value_col} AS DOUBLE)" if ctx.value_col else "NULL::DOUBLE"
    profile = ", ".join(f"{text_col(name)} AS {name}" for name in PROFILE)
    return f"""rows AS (
    SELECT
        {order_key(ctx.columns)} AS order_id,
        TRY_CAST({col("quantity")} AS DOUBLE) AS quantity,
        coalesce(TRY_CAST({col("quantity")} AS DOUBLE) > 0, TRUE) AS kept,
        TRY_CAST({col("price")} AS DOUBLE) AS price,
        {row_value} AS row_value,
        upper({pii.text(col("currency"))}) AS currency,
        {epoch(col("timestamp"), ctx.type_of("timestamp", "TIMESTAMP"))} AS event_time,
        {pii.text(text_col("product_id"))} AS product_id,
        {pii.text(col("brand"))} AS brand,
        {pii.text(col("category"))} AS category,
        coalesce(lower({pii.text(col("action_source"))}),
                 {q(ctx.default_action_source)}) AS action_source,
        coalesce({pii.text(col("event_name"))}, 'Purchase')
            AS raw_event_name,
        {pii.text(text_col("event_id"))} AS event_id,
        {pii.text(col("event_source_url"))} AS event_source_url,
        {profile},
        {customer_hashes(ctx.columns)}
    FROM {ctx.source} AS src
)"""


def grouped_cte(ctx: Shaping) -> str:
    """``grouped``: one row per ``order_id`` and kind of line: the kept lines of an order
    are its event, its returned or cancelled lines (quantity <= 0) are row rejects, and
    the rows without an order id are one group. Each group holds what the event is made
    of and what its checks read: the values its lines must agree on as their smallest
    and largest, counts of bad lines, its items as JSON text, and the smallest and
    largest hashes of its rows' customer fields (not the fields: fixed-size state)."""
    columns = [*_order_values(ctx), *_agreed_values(ctx), *_line_checks(), *_contents()]
    return f"""grouped AS (
    SELECT
        {_NEXT.join(columns)}
    FROM rows
    GROUP BY order_id, kept OR order_id IS NULL
)"""


def _per_order(aggregate: str, column: str | None, constant: str) -> str:
    """``aggregate`` per order, or ``constant`` when the job has no such ``column``: an
    aggregate over a constant still costs the grouping a pass over every row."""
    return aggregate if column not in (None, "NULL") else constant


def _order_values(ctx: Shaping) -> list[str]:
    """The group, its returned lines, its size, and the order's time and value (the
    sum of price x quantity, or the value column, which its lines must agree on)."""
    value = ("round(sum(price * quantity), 2)" if ctx.value_col is None
             else "round(min(row_value), 2)")
    return ["order_id",
            "kept OR order_id IS NULL AS kept",
            "list({'product_id': product_id}) FILTER (WHERE NOT kept) AS returned",
            "count(*) AS source_rows",
            "min(event_time) AS event_time",
            f"{value} AS value",
            f"{_per_order('min(row_value)', ctx.value_col, 'NULL::DOUBLE')} AS min_value",
            f"{_per_order('max(row_value)', ctx.value_col, 'NULL::DOUBLE')} AS max_value"]


def _agreed_values(ctx: Shaping) -> list[str]:
    """What an order's lines must agree on, as their smallest and largest: currency,
    action source and event name (mapped to a standard event); and the event's name, id,
    source URL and category: the smallest of its lines' (a constant without the column)."""
    col, names = ctx.col, when_then(ctx.event_names)
    source = partial(_per_order, column=col("action_source"),
                     constant=q(ctx.default_action_source))
    name = partial(_per_order, column=col("event_name"),  # Purchase, mapped, without a column
                   constant=q(ctx.event_names.get("Purchase", "Purchase")))
    text = partial(_per_order, constant="NULL::VARCHAR")
    return ["min(currency) AS currency",
            "max(currency) AS last_currency",
            f"{source('min(action_source)')}\n            AS action_source",
            f"{source('max(action_source)')}\n            AS last_action_source",
            f"{name(f'CASE min(raw_event_name) {names} ELSE min(raw_event_name) END')}"
            " AS event_name",
            f"{name(f'min(CASE raw_event_name {names} ELSE raw_event_name END)')}"
            " AS first_mapped_name",
            f"{name(f'max(CASE raw_event_name {names} ELSE raw_event_name END)')}"
            " AS last_mapped_name",
            f"{text('min(event_id)', col('event_id'))} AS event_id",
            f"{text('min(event_source_url)', col('event_source_url'))}"
            "\n            AS event_source_url",
            f"{text('min(category)', col('category'))} AS category"]


def _line_checks() -> list[str]:
    """How many of an order's lines have a quantity or price that rejects the order."""
    return ["count(*) FILTER (WHERE quantity IS NULL OR NOT isfinite(quantity) OR quantity > 1e7)"
            "\n            AS missing_quantity",
            "count(*) FILTER (WHERE isfinite(quantity) AND quantity <> floor(quantity))"
            "\n            AS fractional_quantity",
            "count(*) FILTER (WHERE price IS NULL OR NOT isfinite(price) OR abs(price) > 1e9)"
            "\n            AS bad_price"]


def _contents() -> list[str]:
    """The order's number of items and its items' JSON texts, and the smallest and
    largest of its rows' two customer hashes (two customers in one order: they differ)."""
    return ["sum(quantity)::DOUBLE AS num_items",
            f"list({ITEM}) FILTER (WHERE kept AND product_id IS NOT NULL) AS items",
            "min(customer) AS customer, max(customer) AS last_customer",
            "min(customer_check) AS customer_check, max(customer_check) AS last_customer_check"]
