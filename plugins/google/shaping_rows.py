"""The steps of the google shaping query that read the job's rows: ``rows`` types each
row's values, ``grouped`` groups them by order (:mod:`plugins.google.shaping` lists every
step)."""

from __future__ import annotations

from connector.kit import pii
from plugins.google.columns import CLICK_IDS, CONSENTS, PROFILE, customer_hashes, order_key
from plugins.google.shaping_context import Shaping, epoch, q

#: Between the columns of a SELECT, one a line.
_NEXT = ",\n        "
#: Consent values of a row, by the words that say them: 1 granted, 2 denied, 3 not a
#: consent value. The order's consent is the largest of its rows': denied wins.
GRANTED = ("granted", "consent_granted", "true", "t", "yes", "y", "1")
DENIED = ("denied", "consent_denied", "false", "f", "no", "n", "0")
NOT_A_CONSENT = 3

#: One item of ``cartData.items`` from a line's values, as JSON text (quantity is an
#: int64: a JSON string). The grouping collects the texts; the event lists them sorted.
ITEM = ("'{\"merchantProductId\":' || to_json(product_id) || ',\"quantity\":\"' || "
        "CAST(CAST(quantity AS BIGINT) AS VARCHAR) || '\"'"
        " || coalesce(',\"unitPrice\":' || to_json(round(price, 2)), '') || '}'")


def consent(expr: str) -> str:
    """A consent column as 1 (granted), 2 (denied), 3 (not a consent value) or NULL."""
    v = f"lower({pii.text(f'CAST({expr} AS VARCHAR)')})"
    granted = ", ".join(q(w) for w in GRANTED)
    denied = ", ".join(q(w) for w in DENIED)
    return (f"CASE WHEN {v} IS NULL THEN NULL WHEN {v} IN ({granted}) THEN 1 "
            f"WHEN {v} IN ({denied}) THEN 2 ELSE {NOT_A_CONSENT} END")


def action(ctx: Shaping) -> str:
    """The row's conversion action id: its ``conversion_action`` value (an id, or a name
    of ``conversion_actions``), else ``conversion_action_id``; NULL when the value names
    no action (or there is no default)."""
    default = q(ctx.default_action) if ctx.default_action else "NULL"
    if not ctx.has("conversion_action"):
        return default
    v = pii.text(ctx.text_col("conversion_action"))
    names = " ".join(f"WHEN {v} = {q(name)} THEN {q(id_)}"
                     for name, id_ in ctx.actions.items())
    return (f"CASE WHEN {v} IS NULL THEN {default} {names} "
            f"WHEN regexp_full_match({v}, '[0-9]{{1,20}}') THEN {v} END")


def rows_cte(ctx: Shaping) -> str:
    """``rows``: each of the job's rows with its values typed and trimmed, the order it
    belongs to, whether it is a kept line (quantity > 0 or unknown), its conversion
    action, click ids and consents, and two hashes of its customer fields. The customer
    fields stay raw: ``users`` normalizes each distinct customer once."""
    col, text_col = ctx.col, ctx.text_col
    quantity = f"TRY_CAST({col('quantity')} AS DOUBLE)" if ctx.has("quantity") else "1.0"
    value = f"TRY_CAST({col('value')} AS DOUBLE)" if ctx.has("value") else "NULL::DOUBLE"
    clicks = [f"{pii.text(text_col(name))} AS {name}" for name in CLICK_IDS]
    consents = [f"{consent(col(name))} AS {name}" for name in CONSENTS]
    profile = [f"{text_col(name)} AS {name}" for name in PROFILE]
    return f"""rows AS (
    SELECT
        {order_key(ctx.columns)} AS order_id,
        {quantity} AS quantity,
        coalesce({quantity} > 0, TRUE) AS kept,
        TRY_CAST({col("price")} AS DOUBLE) AS price,
        {value} AS row_value,
        upper({pii.text(col("currency"))}) AS currency,
        {epoch(col("timestamp"), ctx.type_of("timestamp", "TIMESTAMP"))} AS event_time,
        {pii.text(text_col("product_id"))} AS product_id,
        {action(ctx)} AS action,
        {_NEXT.join([*clicks, *consents, *profile])},
        {customer_hashes(ctx.columns)}
    FROM {ctx.source} AS src
)"""


def grouped_cte(ctx: Shaping) -> str:
    """``grouped``: one row per ``order_id`` and kind of line: the kept lines of an order
    are its event, its returned or cancelled lines (quantity <= 0) are row rejects, and
    rows without an order id are one group. Each holds what the event is made of and what
    its checks read: values its lines must agree on as their smallest and largest, counts
    of bad lines, its items as JSON text, and its customer's two hashes."""
    columns = [*_order_values(ctx), *_agreed_values(ctx), *_line_checks(ctx), *_contents()]
    return f"""grouped AS (
    SELECT
        {_NEXT.join(columns)}
    FROM rows
    GROUP BY order_id, kept OR order_id IS NULL
)"""


def _per_order(ctx: Shaping, column: str, aggregate: str, constant: str) -> str:
    """``aggregate`` when the job has ``column``, else ``constant``: an aggregate over a
    constant still costs the grouping a pass over every row."""
    return aggregate if ctx.has(column) else constant


def _order_values(ctx: Shaping) -> list[str]:
    """The group, its returned lines, its size, time and value (the value column, which
    its lines must agree on, else the sum of price x quantity)."""
    value = ("round(min(row_value), 2)" if ctx.has("value")
             else "round(sum(price * quantity), 2)")
    per = lambda agg: _per_order(ctx, "value", agg, "NULL::DOUBLE")  # noqa: E731
    return ["order_id",
            "kept OR order_id IS NULL AS kept",
            "list({'product_id': product_id}) FILTER (WHERE NOT kept) AS returned",
            "count(*) AS source_rows",
            "min(event_time) AS event_time",
            f"{value} AS value",
            f"{per('min(row_value)')} AS min_value",
            f"{per('max(row_value)')} AS max_value"]


def _agreed_values(ctx: Shaping) -> list[str]:
    """What an order's lines must agree on, as their smallest and largest: currency,
    conversion action and click ids; and its consents, the largest (denied wins)."""
    out = ["min(currency) AS currency", "max(currency) AS last_currency"]
    if ctx.has("conversion_action"):
        out += ["min(action) AS action", "max(action) AS last_action",
                "count(*) FILTER (WHERE action IS NULL) AS no_action"]
    else:
        default = q(ctx.default_action) if ctx.default_action else "NULL::VARCHAR"
        out += [f"{default} AS action", f"{default} AS last_action", "0 AS no_action"]
    for name in CLICK_IDS:
        out += [f"{_per_order(ctx, name, f'min({name})', 'NULL::VARCHAR')} AS {name}",
                f"{_per_order(ctx, name, f'max({name})', 'NULL::VARCHAR')} AS last_{name}"]
    for name in CONSENTS:
        out.append(f"{_per_order(ctx, name, f'max({name})', 'NULL::INTEGER')} AS {name}")
    return out


def _line_checks(ctx: Shaping) -> list[str]:
    """How many of an order's lines have a quantity or price that rejects the order (a
    price is only checked when the value comes from price x quantity)."""
    price = "0" if ctx.has("value") else (
        "count(*) FILTER (WHERE price IS NULL OR NOT isfinite(price) OR abs(price) > 1e9)")
    return ["count(*) FILTER (WHERE quantity IS NULL OR NOT isfinite(quantity) "
            "OR quantity > 1e7)\n            AS missing_quantity",
            "count(*) FILTER (WHERE isfinite(quantity) AND quantity <> floor(quantity))"
            "\n            AS fractional_quantity",
            f"{price}\n            AS bad_price"]


def _contents() -> list[str]:
    """The order's items as JSON texts, and the smallest and largest of its rows' two
    customer hashes (two customers in one order: they differ)."""
    return [f"list({ITEM}) FILTER (WHERE kept AND product_id IS NOT NULL) AS items",
            "min(customer) AS customer, max(customer) AS last_customer",
            "min(customer_check) AS customer_check, max(customer_check) AS last_customer_check"]



