"""The destination's shaping SQL over a job's rows, checked against what the
destination declares it returns (:attr:`~connector.kit.Destination.events_schema`)."""

from __future__ import annotations

from connector import registry
from connector.engines.warehouse import Engine
from connector.kit.destination import Destination
from connector.kit.events import check_shaped


def shaping(engine: Engine, dest: Destination, source: str,
            columns: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The shaping SQL of ``dest`` over the relation ``source`` (the job's query, whose
    output ``columns`` it is given) and the columns it returns; a shaping that does not
    return its declared columns is a :class:`~connector.kit.errors.PluginError` naming
    the destination, its plugin and the column, before any row is read."""
    sql = dest.shape_sql(source, columns)
    returned = engine.describe(sql)
    check_shaped(dest.events_schema, returned, registry.who(type(dest)))
    return sql, returned
