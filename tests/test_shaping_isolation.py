"""A destination's shaping SQL names its own CTEs (Meta: rows, orders, users, events,
countries, states, routes...). A job reading warehouse tables with those names must
still read the tables: the core hands shaping a view, bound on its own."""

from __future__ import annotations

import datetime as dt

from connector.run import pipeline
from connector.testing import make_project

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)


def test_tables_named_like_the_shaping_ctes_are_read_from_the_warehouse(tmp_path):
    orders = [{"order_id": "A1", "customer": 1, "qty": 2, "price": 5.0, "at": NOW},
              {"order_id": "A2", "customer": 2, "qty": 1, "price": 9.5, "at": NOW}]
    users = [{"id": 1, "email": "a@example.com", "state_code": "CA"},
             {"id": 2, "email": "b@example.com", "state_code": "NY"}]
    states = [{"code": "CA", "name": "California"}, {"code": "NY", "name": "New York"}]
    sql = """SELECT u.id AS external_id, o.order_id, o.qty AS quantity, u.email,
                    o.at AS timestamp, o.price, 'USD' AS currency, s.name AS state
             FROM orders o JOIN users u ON u.id = o.customer
             JOIN states s ON s.code = u.state_code"""
    project = make_project(tmp_path, tables={"orders": orders, "users": users, "states": states},
                           jobs={"j": ("meta", {"dataset_id": "123456789012345"}, sql)})
    summary = pipeline.run(project, "j", dry_run=True)
    assert summary.status == "dry_run", summary.error
    assert (summary.counts.events, summary.counts.rejected, summary.counts.rows_read) == (2, 0, 2)
    rows, events = pipeline.preview(project, "j")
    assert rows.num_rows == 2 and sorted(events.column("event_key").to_pylist()) == ["A1", "A2"]
