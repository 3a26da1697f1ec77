"""The limit reference: the least DuckDB work that makes the benchmark's events.

One query over the same warehouse groups the line items into orders, hashes each
customer's fields once (SHA-256 of the trimmed, lower-cased value; the phone's digits)
and builds each order's event JSON (name, time, action source, ``user_data``,
``custom_data`` with value, currency, order id, item count and contents), and nothing
else: no validation of values, no time window or reject reasons, no routing, no
fingerprint, no ledger. ``bench/run.py`` runs it in a child process (``python -m
bench.limit CONFIG.json``, one JSON line out) with the job's memory limit and threads, and
reports offramp's dry run as a fraction of its events per second.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from bench.naive import peak_rss_mb


def _hashed(name: str, value: str) -> str:
    return f"""'"{name}":[' || to_json(sha256({value})) || ']'"""


#: The customers' fields, each hashed once per customer.
USERS = f"""
SELECT customer_id, '{{' || concat_ws(',',
    {_hashed("em", "lower(trim(email))")},
    {_hashed("ph", "regexp_replace(phone, '[^0-9]', '', 'g')")},
    {_hashed("fn", "lower(trim(given_name))")},
    {_hashed("ln", "lower(trim(surname))")},
    {_hashed("db", "strftime(birthdate, '%Y%m%d')")},
    {_hashed("ge", "lower(left(trim(gender), 1))")},
    {_hashed("ct", "lower(replace(city, ' ', ''))")},
    {_hashed("st", "lower(trim(state))")},
    {_hashed("zp", "lower(trim(postal))")},
    {_hashed("country", "lower(trim(country))")},
    {_hashed("external_id", "amperity_id")}) || '}}' AS user_data
FROM customers"""

#: The line items grouped into orders, joined to their customer, as event JSON.
LIMIT_SQL = f"""
WITH users AS ({USERS}),
orders AS (
    SELECT order_id, any_value(customer_id) AS customer_id,
           max(order_datetime) AS event_time, sum(price * quantity) AS value,
           any_value(currency) AS currency, sum(quantity) AS num_items,
           '[' || string_agg('{{"id":' || to_json(product_id) || ',"quantity":' || quantity
                             || '}}', ',' ORDER BY product_id) || ']' AS contents
    FROM order_lines GROUP BY order_id)
SELECT o.order_id AS event_key,
       '{{"event_name":"Purchase","event_time":' || epoch(o.event_time)::BIGINT
       || ',"action_source":"physical_store","user_data":' || coalesce(u.user_data, '{{}}')
       || ',"custom_data":{{"value":' || o.value || ',"currency":' || to_json(o.currency)
       || ',"order_id":' || to_json(o.order_id) || ',"num_items":' || o.num_items
       || ',"contents":' || o.contents || '}}}}' AS payload
FROM orders o LEFT JOIN users u ON u.customer_id = o.customer_id"""


def run(config: dict[str, Any]) -> dict[str, Any]:
    """Stream the reference query's events as Arrow batches (as offramp reads its own)
    and count them and their bytes."""
    settings = {k: v for k, v in config.get("engine", {}).items() if v}
    con = duckdb.connect(config={"memory_limit": "2GB", **settings})
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    con.execute(f"ATTACH '{config['warehouse']}' AS warehouse (READ_ONLY)")
    con.execute("USE warehouse")
    reader = con.sql(LIMIT_SQL).to_arrow_reader(16384)
    events = payload_bytes = 0
    for batch in reader:
        events += batch.num_rows
        payload_bytes += batch.column("payload").nbytes
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    con.close()
    return {"seconds": seconds, "events": events, "payload_bytes": payload_bytes,
            "cpu_seconds": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
            "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    print(json.dumps(run(json.loads(Path(sys.argv[1]).read_text()))))


if __name__ == "__main__":
    main()
