"""The ledger diff: a job's shaped events against what its ledger already holds.

One SQL statement (run by DuckDB, or transpiled for Spark) marks each event unchanged,
new, changed or to retry, and rejects events that no ledger could track.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from connector.engines.warehouse import literal
from connector.state import SETTLED


def diff_sql(shape: str, shape_columns: Iterable[str], *, full: bool = False,
             failed_first: bool = False, resend_changed: bool = True,
             ledger: str = SETTLED, all_payloads: bool = False,
             unique_keys: bool = False, keep: Sequence[str] = ()) -> str:
    """The events of ``shape`` (a destination's shaping SQL, whose output columns are
    ``shape_columns``) against the ledger, one row per event: ``event_key``, ``route``,
    ``reject_reason``, ``fingerprint``, ``source_rows``, ``unchanged`` (delivered or
    refused before with this very payload), ``previous_status`` (the event's latest
    ledger status, NULL when new) and ``payload`` (NULL for unchanged and rejected
    events unless ``all_payloads``).

    :param full: count nothing as unchanged (resend everything).
    :param failed_first: order events that failed last time first.
    :param resend_changed: the destination's
        :attr:`~connector.kit.destination.Destination.resend_changed`: when False, an event
        delivered once is unchanged whatever its payload became (one the destination
        refused is still sent again when its payload changes).
    :param unique_keys: the destination's
        :attr:`~connector.kit.destination.Destination.unique_keys`: its shaping makes at most
        one event per key that is not rejected, so the duplicate-key check is skipped.
    :param keep: more of the shaping's columns to pass through (``source_key`` and
        ``reject_timed``, for :mod:`connector.run.incremental`).
    :param ledger: a query giving each event's latest ``fingerprint``, ``status`` and
        ``route`` (default: :data:`connector.state.store.SETTLED`, over the attached state file).

    Events with a NULL key, with a NULL payload and no reason, or whose key another
    event of the run shares are rejected with a reason: the ledger could not record
    the first, the second cannot be sent, and of two events under one key every later
    run would find one changed and send it again. An event sent to another route than
    last time is not unchanged: the new target never saw it.

    The duplicate-key check is a window over every event, payloads included, which can
    cost more than the shaping itself (docs/benchmarks.md), so destinations whose shaping
    groups by the key declare :attr:`~connector.kit.destination.Destination.unique_keys`.
    """
    rows_expr = "source_rows" if "source_rows" in shape_columns else "NULL::BIGINT"
    key = "".join(f", {name}" for name in keep)
    key_out = "".join(f", s.{name}" for name in keep)
    checked = "SELECT * FROM checked" if unique_keys else _CHECK_DUPLICATES.replace("/*key*/", key)
    same = ("l.fingerprint = s.fingerprint AND " if resend_changed else
            "(l.status = 'delivered' OR l.fingerprint = s.fingerprint) AND ")
    settled = ("FALSE" if full else
               f"coalesce({same}l.route IS NOT DISTINCT FROM s.route AND "
               "l.status IN ('delivered', 'rejected'), FALSE)")
    order = "ORDER BY (l.status = 'failed') DESC NULLS LAST" if failed_first else ""
    payload = ("s.payload" if all_payloads else
               f"CASE WHEN {settled} OR s.reject_reason IS NOT NULL THEN NULL "
               "ELSE s.payload END")
    return f"""
        WITH checked AS (
            SELECT event_key, route, payload, {rows_expr} AS source_rows{key},
                   CASE WHEN reject_reason IS NOT NULL THEN reject_reason
                        WHEN event_key IS NULL THEN {_NO_KEY}
                        WHEN payload IS NULL THEN {_NO_PAYLOAD} END AS reject_reason,
                   md5(payload) AS fingerprint
            FROM ({shape}) AS shaped_events),
        shaped AS ({checked}),
        settled AS ({ledger})
        SELECT s.event_key, s.route, s.reject_reason, s.fingerprint, s.source_rows{key_out},
               {settled} AS unchanged, l.status AS previous_status,
               {payload} AS payload
        FROM shaped AS s LEFT JOIN settled AS l ON l.event_key = s.event_key
        {order}"""


_DUPLICATE = literal("duplicate event key: {} events share this key in one run; make the "
                     "key unique (for example, group the query by it)")
_CHECK_DUPLICATES = f"""
            SELECT event_key, route, payload, source_rows/*key*/, fingerprint,
                   CASE WHEN reject_reason IS NULL AND copies > 1
                        THEN format({_DUPLICATE}, copies) ELSE reject_reason END AS reject_reason
            FROM (SELECT *, count(*) FILTER (WHERE reject_reason IS NULL)
                            OVER (PARTITION BY event_key) AS copies FROM checked)"""
_NO_KEY = literal("the event has no key: its event_key is NULL (is the key column NULL "
                  "in the query?)")
_NO_PAYLOAD = literal("the destination built no payload for this event")
