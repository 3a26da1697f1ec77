"""The ``events`` step of the google shaping query: each group with its customer, route
(the conversion action), reject reason (:mod:`plugins.google.shaping_rejects`) and JSON
payload, an ``Event`` of the Data Manager API (:mod:`plugins.google.shaping` lists every
step)."""

from __future__ import annotations

from plugins.google.columns import CLICK_IDS
from plugins.google.shaping_context import Shaping, q
from plugins.google.shaping_rejects import reject_reason

#: ``ConsentStatus`` names by the numbers ``rows`` gives consents.
CONSENT_STATUS = "CASE {} WHEN 1 THEN 'CONSENT_GRANTED' WHEN 2 THEN 'CONSENT_DENIED' END"


def events_cte(ctx: Shaping) -> str:
    """``events``: each group of ``grouped`` (``o``), the kept lines of an order joined to
    their customer (``u``, by both hashes): its key (the order id), route, the first
    reject rule it fails, and its payload. The payload is built for every group and
    dropped by the final SELECT for returns and rows without an order id."""
    return f"""events AS (
    SELECT
        o.order_id AS event_key,
        o.action AS route,
        o.source_rows,
        o.order_id,
        o.kept,
        o.returned,
        {reject_reason(ctx)},
        {payload(ctx)}
    FROM grouped o
    LEFT JOIN users u ON o.kept AND o.order_id IS NOT NULL AND u.customer = o.customer
        AND u.customer_check = o.customer_check
)"""


def payload(ctx: Shaping) -> str:
    """The event's JSON: transaction id, time (RFC 3339, UTC offset), source, currency,
    value, click ids, user identifiers, the row's consent (over the request's), and the
    cart items. ``concat_ws`` leaves out the members that are NULL."""
    return f"""'{{' || concat_ws(',',
            '"transactionId":' || to_json(o.order_id),
            '"eventTimestamp":"' || strftime(make_timestamp(o.event_time * 1000000),
                                             '%Y-%m-%dT%H:%M:%S+00:00') || '"',
            {q(f'"eventSource":"{ctx.event_source}"')},
            '"currency":' || to_json(o.currency),
            '"conversionValue":' || to_json(o.value),
            {_ad_identifiers()},
            '"userData":{{"userIdentifiers":[' || NULLIF(u.identifiers, '') || ']}}',
            {_consent(ctx)},
            {_cart()}) || '}}' AS payload"""


def _ad_identifiers() -> str:
    members = ", ".join(f"'\"{n}\":' || to_json(o.{n})" for n in CLICK_IDS)
    return f"'\"adIdentifiers\":{{' || NULLIF(concat_ws(',', {members}), '') || '}}'"


def _consent(ctx: Shaping) -> str:
    """The row's consent, when the job has consent columns and the row a value; without
    one, the request's consent (the job's defaults) applies."""
    if not (ctx.has("ad_user_data") or ctx.has("ad_personalization")):
        return "NULL"
    members = ", ".join(
        f"'\"{key}\":\"' || {CONSENT_STATUS.format(f'o.{name}')} || '\"'"
        for key, name in (("adUserData", "ad_user_data"),
                          ("adPersonalization", "ad_personalization")))
    return f"'\"consent\":{{' || NULLIF(concat_ws(',', {members}), '') || '}}'"


def _cart() -> str:
    """The order's items in the byte order of their JSON text; none with a braid (Google
    does not take cart data with a gbraid or wbraid)."""
    return ("CASE WHEN o.gbraid IS NULL AND o.wbraid IS NULL AND array_length(o.items) > 0 THEN "
            "'\"cartData\":{\"items\":[' || array_to_string(list_sort(o.items), ',') || ']}' "
            "END")
