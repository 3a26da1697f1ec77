"""Rows to Data Manager API events, in one DuckDB query: normalize, hash, group by
order, reject with reasons, build each event's JSON. The query is composed from these
steps (:data:`STEPS`), one function each, in order: ``WITH`` the CTEs of the first five,
then the last one's ``SELECT``. Each reads what it needs of the job from a
:class:`~plugins.google.shaping_context.Shaping` (:func:`context`).

:func:`lookup_ctes`   ``countries``: :mod:`connector.kit.pii`'s country table (ISO
                      alpha-2 and calling code by code or name).
:func:`rows_cte`      ``rows``: the job's rows with typed, row-level values
                      (:mod:`plugins.google.shaping_rows`).
:func:`grouped_cte`   ``grouped``: one row per ``order_id`` and kind of line (kept, or
                      returned: quantity <= 0); rows without an order id are one group.
:func:`users_cte`     ``users``: each distinct customer normalized and hashed once, as
                      user identifiers (:mod:`plugins.google.shaping_users`).
:func:`events_cte`    ``events``: each group with its customer, conversion action (the
                      route), the first failed rule of
                      :data:`~plugins.google.shaping_rejects.REJECTS`, and its JSON
                      (:mod:`plugins.google.shaping_events`).
:func:`unnest_events` the final SELECT: one row per event, per returned line, per row
                      without an order id.

The layout follows the Meta shaping (``plugins/meta/shaping.py``), whose module
docstring explains the choices that keep it fast: one reader per CTE, two hashes of the
customer fields in the grouping instead of the fields, each distinct customer hashed
once, items collected as JSON text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from connector.kit import ConfigError, pii
from connector.kit.events import NO_ORDER_ID, RETURNED_LINE
from plugins.google.columns import ADDRESS, named, order_key
from plugins.google.settings import GoogleSettings
from plugins.google.shaping_context import Shaping, q
from plugins.google.shaping_events import events_cte
from plugins.google.shaping_rejects import FUTURE, TOO_OLD
from plugins.google.shaping_rows import grouped_cte, rows_cte
from plugins.google.shaping_users import users_cte

__all__ = ["STEPS", "context", "order_key", "shape_sql"]


def shape_sql(source: str, columns: dict[str, str], s: GoogleSettings,
              now: dt.datetime) -> str:
    """The shaping query of a job reading ``source`` (its ``columns``: name -> DuckDB
    type) with settings ``s``, at ``now``: its :data:`STEPS`, as ``WITH ... SELECT``."""
    ctx = context(source, columns, s, now)
    *ctes, select = (step(ctx) for step in STEPS)
    return "\nWITH " + ",\n".join(ctes) + "\n" + select + "\n"


def context(source: str, columns: dict[str, str], s: GoogleSettings,
            now: dt.datetime) -> Shaping:
    """What the steps read, resolved once. A job whose columns cannot make what its
    settings ask is refused here, with what to change."""
    _check_columns(columns, s)
    return Shaping(
        source=source, columns=columns, now=int(now.timestamp()),
        max_age_days=s.max_age_days, default_action=s.conversion_action_id,
        actions=dict(s.conversion_actions), event_source=s.event_source,
        default_country=s.default_country.lower() if s.default_country else None,
        default_calling_code=pii.calling_code(s.default_country) if s.default_country
        else None, encoding=s.encoding, ad_user_data=s.ad_user_data,
        consent_required=s.consent_required)


def _check_columns(columns: dict[str, str], s: GoogleSettings) -> None:
    has = {name for name in ("conversion_action", *ADDRESS) if named(columns, name)}
    if s.conversion_actions and "conversion_action" not in has:
        raise ConfigError("conversion_actions names the conversion actions of a "
                          "conversion_action column, which the query does not have: add "
                          "the column, or set conversion_action_id instead")
    parts = [name for name in ADDRESS if name in has or (name == "country" and
                                                         s.default_country)]
    if parts and len(parts) < len(ADDRESS):
        missing = [name for name in ADDRESS if name not in parts]
        raise ConfigError(f"an address identifier needs given_name, surname, postal and "
                          f"country (or default_country); the query has {', '.join(parts)} "
                          f"but not {', '.join(missing)}: add "
                          f"{'it' if len(missing) == 1 else 'them'}, or leave the address "
                          "columns out")


def lookup_ctes(ctx: Shaping) -> str:
    """``countries``: a customer's country (code or name) to ISO alpha-2 and calling code."""
    return pii.countries_cte("countries")


def unnest_events(ctx: Shaping) -> str:
    """The query's result, from ``events``: one row per event (``i = 0``), per returned
    line of an order, and per row without an order id. ``reject_timed`` marks the
    reasons the clock alone can change (:data:`FUTURE`, :data:`TOO_OLD`)."""
    timed = f"reject_reason = {q(FUTURE)} OR starts_with(reject_reason, {q(TOO_OLD)})"
    return f"""SELECT
    CASE WHEN i = 0 THEN event_key
         WHEN order_id IS NULL THEN 'row' || i || ':no-order-id'
         ELSE order_id || '/' || coalesce(returned[i].product_id, 'row' || i) END AS event_key,
    CASE WHEN i = 0 THEN route END AS route,
    CASE WHEN i = 0 THEN payload END AS payload,
    CASE WHEN i = 0 THEN reject_reason
         WHEN order_id IS NULL THEN {q(NO_ORDER_ID)}
         ELSE {q(RETURNED_LINE)} END AS reject_reason,
    CASE WHEN i = 0 THEN source_rows ELSE 1 END AS source_rows,
    order_id AS source_key,
    CASE WHEN i = 0 THEN {timed}
         ELSE FALSE END AS reject_timed
FROM (SELECT *, unnest(CASE WHEN order_id IS NULL
                                 THEN generate_series(1, CAST(source_rows AS INTEGER))
                            WHEN NOT kept THEN generate_series(1, array_length(returned))
                            ELSE [0] END) AS i
      FROM events)"""


#: The steps of the query, in order: the first five give CTEs, the last the SELECT.
STEPS: tuple[Callable[[Shaping], str], ...] = (
    lookup_ctes, rows_cte, grouped_cte, users_cte, events_cte, unnest_events)
