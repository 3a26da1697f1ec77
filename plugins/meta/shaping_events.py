"""The ``events`` step of the Meta shaping query: each group with its customer, route,
reject reason (:mod:`plugins.meta.shaping_rejects`) and JSON payload
(:mod:`plugins.meta.shaping` lists every step)."""

from __future__ import annotations

from plugins.meta.shaping_context import Shaping, number, when_then
from plugins.meta.shaping_rejects import reject_reason


def events_cte(ctx: Shaping) -> str:
    """``events``: each group of ``grouped`` (``o``), the kept lines of an order joined to
    their customer (``u``, by both hashes) and to their route(s) (``r``): its key and
    route, the first reject rule it fails, and its payload. The payload is built for
    every group, returns and rows without an order id included, and dropped by the final
    SELECT: a ``CASE`` around it would keep DuckDB from sharing its subexpressions."""
    return f"""events AS (
    SELECT
        {_event_key(ctx)} AS event_key,
        r.dataset_id AS route,
        o.source_rows,
        o.order_id,
        o.kept,
        o.returned,
        {reject_reason(ctx)},
        {payload(ctx)}
    FROM grouped o
    LEFT JOIN users u ON o.kept AND o.order_id IS NOT NULL AND u.customer = o.customer
        AND u.customer_check = o.customer_check
    {_route_join(ctx)}
)"""


def _event_key(ctx: Shaping) -> str:
    """The order id, prefixed with its dataset when events are routed by name (one order
    may go to several datasets: one event each)."""
    return "coalesce(r.dataset_id, '-') || ':' || o.order_id" if ctx.routed else "o.order_id"


def _route_join(ctx: Shaping) -> str:
    """Each event to its dataset(s): by its event name, else by ``*`` (none: ``r`` is
    NULL, a reject); without routing, every group to the one dataset."""
    if not ctx.routed:
        return "CROSS JOIN routes r"
    return ("LEFT JOIN routes r ON o.kept AND o.order_id IS NOT NULL AND ("
            "r.event_name = o.event_name OR (r.event_name = '*' AND NOT EXISTS ("
            "SELECT 1 FROM routes x WHERE x.event_name = o.event_name)))")


def payload(ctx: Shaping) -> str:
    """The event's JSON, as text: its name, time, action source, id (the order id
    without one), source URL, ``user_data``, ``custom_data`` and, with Limited Data Use,
    its processing options. ``concat_ws`` leaves out the members that are NULL."""
    if ctx.ldu is None:
        ldu = "NULL"
    else:
        ldu = (f"'\"data_processing_options\":[\"LDU\"],\"data_processing_options_country\":"
               f"{ctx.ldu[0]},\"data_processing_options_state\":{ctx.ldu[1]}'")
    return f"""'{{' || concat_ws(',',
            '"event_name":' || to_json(o.event_name),
            '"event_time":' || o.event_time,
            '"action_source":' || to_json(o.action_source),
            '"event_id":' || to_json(coalesce(o.event_id, o.order_id)),
            '"event_source_url":' || to_json(o.event_source_url),
            '"user_data":' || u.user_data,
            {custom_data(ctx)},
            {ldu}) || '}}' AS payload"""


def custom_data(ctx: Shaping) -> str:
    """``custom_data``: the order's value, currency, id, number of items, content type
    (by category, ``content_types``; ``product`` otherwise) and ``contents``, its items
    in the byte order of their JSON text."""
    content_type = (f"CASE o.category {when_then(ctx.content_types)} ELSE 'product' END"
                    if ctx.content_types else "'product'")
    return f"""'"custom_data":{{' || concat_ws(',',
                '"value":' || to_json(o.value),
                '"currency":' || to_json(o.currency),
                '"order_id":' || to_json(o.order_id),
                '"num_items":' || {number("o.num_items")},
                '"content_type":' || to_json(
                    {content_type}),
                '"contents":[' || array_to_string(list_sort(o.items), ',') || ']') || '}}'"""
