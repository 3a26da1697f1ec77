"""Rows to Meta events, in one DuckDB query: normalize, hash, group by order,
reject with reasons, build each event's JSON.

The query is composed from these steps (:data:`STEPS`), one function each, in order:
``WITH`` the CTEs of the first five, then the last one's ``SELECT``. Each reads what it
needs of the job from a :class:`~plugins.meta.shaping_context.Shaping` (:func:`context`).

:func:`lookup_ctes`    ``countries`` and ``states`` (:mod:`connector.kit.pii`'s lookup
                       tables), and ``routes``: the dataset(s) of each event name.
:func:`rows_cte`       ``rows``: the job's rows with typed, row-level values.
:func:`grouped_cte`    ``grouped``: one row per ``order_id`` and kind of line: kept
                       lines, and returned or cancelled lines (quantity <= 0), which
                       become row rejects; rows without an order id are one group. Per
                       order: time, value, currencies, items, the checks that reject a
                       whole order, and the smallest and largest hashes of its rows'
                       customer fields.
:func:`users_cte`      ``users``: each distinct customer of the rows, normalized and
                       hashed once.
:func:`events_cte`     ``events``: each group: orders joined to their customer (by the
                       hashes) and dataset, the JSON built, the first failed rule of
                       :data:`~plugins.meta.shaping_rejects.REJECTS` as
                       ``reject_reason`` (an order whose rows carry two customers is
                       rejected: :data:`SPANNING`).
:func:`unnest_events`  the final SELECT: one row per event, per returned line, per row
                       without an order id.

Each CTE is read by as few others as possible: DuckDB holds a CTE's whole result
when several readers consume it at different paces, and ``rows`` is the whole
result of the query. So ``rows`` is read by the grouping and the distinct
customers only (returns and rows without an order id come out of the grouping too),
``grouped`` by ``events`` only, and no window numbers the rows. The grouping holds
two hashes of the customer fields, not the 15 fields, which keeps its state small.
It collects each line's item as its JSON text, one string, and ``contents`` lists
them in the byte order of that text: DuckDB's list aggregate keeps a struct field by
field, and a list of the six values the items are made of, sorted afterwards, costs
more. ``docs/benchmarks.md`` has what each of these choices saved.

The query's text is part of each run's fingerprint: the steps compose exactly the
text that one function wrote before them (``tests/meta/test_meta_shaping_steps.py``),
so that users' next runs do not shape every order again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from connector.kit import ConfigError, pii
from connector.kit.events import NO_ORDER_ID, RETURNED_LINE
from plugins.meta import columns as job_columns
from plugins.meta.columns import column_type, order_key
from plugins.meta.settings import DEFAULT_EVENT_NAMES, MetaSettings
from plugins.meta.shaping_context import Shaping, q
from plugins.meta.shaping_events import events_cte
from plugins.meta.shaping_rejects import FUTURE, SPANNING, TOO_OLD
from plugins.meta.shaping_rows import grouped_cte, rows_cte
from plugins.meta.shaping_users import users_cte

__all__ = ["FUTURE", "SPANNING", "STEPS", "TOO_OLD", "context", "order_key", "shape_sql"]


def shape_sql(source: str, columns: dict[str, str], s: MetaSettings, now: dt.datetime,
              first_send: bool) -> str:
    """The shaping query of a job reading ``source`` (its ``columns``: name -> DuckDB
    type) with settings ``s``, at ``now``: its :data:`STEPS` in order, as
    ``WITH <the CTEs> SELECT ...``."""
    ctx = context(source, columns, s, now, first_send)
    *ctes, select = (step(ctx) for step in STEPS)
    return "\nWITH " + ",\n".join(ctes) + "\n" + select + "\n"


def context(source: str, columns: dict[str, str], s: MetaSettings, now: dt.datetime,
            first_send: bool) -> Shaping:
    """What the steps read, resolved once from the job and the run's clock. A
    ``value_column`` that is not a column of the query is refused here."""
    value_name = (s.value_column or "value").lower()
    value_col = (job_columns.column(columns, value_name) if column_type(columns, value_name)
                 else None)
    if s.value_column and value_col is None:
        raise ConfigError(f"value_column = {s.value_column!r} is not a column of the query "
                          f"(its columns: {', '.join(columns)}): add it to the SELECT or "
                          "remove the setting")
    return Shaping(
        source=source, columns=columns, now=int(now.timestamp()),
        window_days=s.window_days,
        store_window_days=s.first_send_window_days if first_send else s.window_days,
        event_names={**DEFAULT_EVENT_NAMES, **s.event_names},
        routed=bool(s.datasets), routes=_routes(s), value_col=value_col,
        default_action_source=s.default_action_source, default_country=s.default_country,
        default_calling_code=pii.calling_code(s.default_country) if s.default_country else None,
        content_types=s.content_types, hashing=s.hashing,
        ldu=(s.ldu_country, s.ldu_state) if s.limited_data_use else None)


def _routes(s: MetaSettings) -> tuple[tuple[str, str], ...]:
    """(event name, dataset id) pairs: with ``datasets``, each event name's datasets, then
    ``*`` to ``dataset_id`` if set; without, ``*`` alone to ``dataset_id``."""
    if not s.datasets:
        return (("*", s.dataset_id or ""),)
    pairs = [(name, dataset) for name, ids in s.datasets.items() for dataset in ids]
    return (*pairs, ("*", s.dataset_id)) if s.dataset_id else tuple(pairs)


def lookup_ctes(ctx: Shaping) -> str:
    """``countries`` and ``states``, the tables that normalize a customer's country and
    state, and ``routes``: the dataset(s) each event name goes to (``*``: any other)."""
    routes = ", ".join(f"({q(name)}, {q(dataset)})" for name, dataset in ctx.routes)
    return (f"{pii.countries_cte('countries')}, {pii.states_cte('states')}, "
            f"routes(event_name, dataset_id) AS (VALUES {routes})")


def unnest_events(ctx: Shaping) -> str:
    """The query's result, from ``events``: one row per event (``i = 0``), per returned
    line of an order (its key names the product, or the line's number among them), and
    per row without an order id, with the destination's columns. ``reject_timed`` marks
    the reasons that the clock alone can change (:data:`FUTURE`, :data:`TOO_OLD`)."""
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


#: The steps of the query, in order: each a function of the :class:`Shaping`, the
#: first five giving a CTE (or several), the last the final SELECT.
STEPS: tuple[Callable[[Shaping], str], ...] = (
    lookup_ctes, rows_cte, grouped_cte, users_cte, events_cte, unnest_events)
