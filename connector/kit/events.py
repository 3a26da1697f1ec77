"""The shaped events: what a destination's shaping SQL returns, one row per event.

Every destination declares the columns its :meth:`~connector.kit.Destination.shape_sql`
returns as an Arrow schema (:attr:`~connector.kit.Destination.events_schema`), built
with :func:`shaped_schema`: the four columns every shaping returns, and the optional
ones it adds. offramp checks the shaping's columns against the declaration once per
run, before any row is read (:func:`check_shaped`), and reads the columns by these
names.

=================  =======  =========================================================
column             type     meaning
=================  =======  =========================================================
``event_key``      string   stable identity of the event: the ledger's key
``route``          string   where the event goes (a dataset id, say); NULL for one target
``payload``        string   the event as JSON text
``reject_reason``  string   why the event must not be sent; NULL when it is fine
``source_rows``    int64    (optional) how many of the query's rows made the event
``source_key``     string   (optional) the key of the rows that made the event
``reject_timed``   bool     (optional) the reject reason may change with the clock alone
=================  =======  =========================================================
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from connector.kit.errors import PluginError

EVENT_KEY = "event_key"
ROUTE = "route"
PAYLOAD = "payload"
REJECT_REASON = "reject_reason"
SOURCE_ROWS = "source_rows"
SOURCE_KEY = "source_key"
REJECT_TIMED = "reject_timed"

#: The reject reason of a returned or cancelled line (quantity <= 0) that is left out of
#: its order's event: a line item, not an event.
RETURNED_LINE = "quantity <= 0 (return or cancellation): line item not sent"
#: The reject reason of a query row without an order id: it belongs to no event.
NO_ORDER_ID = "order_id is missing"
#: The reasons that stand for one line item (a query row) refused on its own, for
#: destinations that group line items into orders and reject such rows one by one
#: (:attr:`~connector.kit.Destination.line_item_reasons`).
LINE_ITEM_REASONS = (RETURNED_LINE, NO_ORDER_ID)

#: The columns every shaping returns.
REQUIRED = (pa.field(EVENT_KEY, pa.string()), pa.field(ROUTE, pa.string()),
            pa.field(PAYLOAD, pa.string()), pa.field(REJECT_REASON, pa.string()))
#: The columns a shaping may add, by name.
OPTIONAL = {SOURCE_ROWS: pa.field(SOURCE_ROWS, pa.int64()),
            SOURCE_KEY: pa.field(SOURCE_KEY, pa.string()),
            REJECT_TIMED: pa.field(REJECT_TIMED, pa.bool_())}

#: The DuckDB types (``DESCRIBE``'s names) that feed each Arrow type. ``"NULL"`` is the
#: type of a bare ``NULL AS route``: a column that is always NULL fits any field.
_FEEDS = {
    pa.string(): ("VARCHAR",),
    pa.int64(): ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                 "UINTEGER"),
    pa.bool_(): ("BOOLEAN",),
}


def shaped_schema(*optional: str) -> pa.Schema:
    """The schema of a shaping that returns the four required columns and ``optional``
    ones (of :data:`SOURCE_ROWS`, :data:`SOURCE_KEY`, :data:`REJECT_TIMED`).

    >>> shaped_schema(SOURCE_ROWS).names
    ['event_key', 'route', 'payload', 'reject_reason', 'source_rows']
    """
    unknown = [name for name in optional if name not in OPTIONAL]
    if unknown:
        raise ValueError(f"not an optional shaped-event column: {', '.join(unknown)} "
                         f"(optional columns: {', '.join(OPTIONAL)})")
    return pa.schema([*REQUIRED, *(OPTIONAL[name] for name in OPTIONAL if name in optional)])


#: The schema of a shaping that returns the required columns only.
SHAPED_EVENTS = shaped_schema()


def check_shaped(declared: pa.Schema, columns: Mapping[str, str], who: str) -> None:
    """Check the columns a shaping returns (name -> DuckDB type, as ``DESCRIBE`` gives
    them) against its ``declared`` schema; ``who`` names the destination and its plugin
    in the error.

    >>> check_shaped(SHAPED_EVENTS, {"event_key": "VARCHAR", "route": "NULL",
    ...              "payload": "VARCHAR", "reject_reason": "INTEGER"}, "the x destination")
    Traceback (most recent call last):
    ...
    connector.kit.errors.PluginError: the x destination: shape_sql() returns reject_reason as
    INTEGER, but its events_schema declares string: CAST it in the shaping SQL
    """
    missing = [f.name for f in declared if f.name not in columns]
    if missing:
        raise PluginError(f"{who}: shape_sql() returns no {', '.join(missing)} column, which "
                          "its events_schema declares: return it, or declare the schema "
                          "without it (connector.kit.events.shaped_schema)")
    extra = [name for name in columns if declared.get_field_index(name) < 0]
    if extra:
        raise PluginError(f"{who}: shape_sql() returns {', '.join(extra)}, which its "
                          "events_schema does not declare: declare it with "
                          "connector.kit.events.shaped_schema, or leave it out")
    for field in declared:
        kind = columns[field.name].upper()
        if kind not in ("NULL", '"NULL"') and kind not in _FEEDS[field.type]:
            raise PluginError(f"{who}: shape_sql() returns {field.name} as {kind}, but its "
                              f"events_schema declares {field.type}: CAST it in the "
                              "shaping SQL")
