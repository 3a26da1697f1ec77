"""Synthetic order line items with real-world mess, generated in DuckDB SQL.

Two tables, written to a DuckDB file and to Parquet:

``customers``    one row per customer (about one per two orders): email with stray
                 case and spaces (some invalid or missing), phones in national,
                 international and punctuated formats (some missing), names and
                 cities with accents and punctuation, states as codes, names or
                 abbreviations, ZIP+4 and foreign postal codes, countries as codes,
                 alpha-3 or names, birthdates and genders written several ways.
``order_lines``  N line items, 1 to 6 per order (3 on average): quantity (about 3%
                 returns with quantity -1), price, currency (some lower case with
                 spaces, a few foreign, a few blank, a few orders mixing two),
                 timestamps within the 6 days before ``now``, brand, category.
                 About 5% of orders are guests with no customer row (no contact).

Everything is computed from ``hash()`` of row numbers, so it is deterministic and
vectorized: 10M lines take seconds, not minutes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from connector.engines.warehouse import Engine, Warehouse, WarehouseWriter, literal

#: Lines per block and, per pattern, the order (0-4) of each of the block's 15 lines:
#: five orders per block with 3 lines on average, between 1 and 6 each.
_SIZES = ((3, 3, 3, 3, 3), (1, 5, 2, 4, 3), (2, 2, 4, 6, 1), (4, 1, 3, 2, 5), (6, 1, 1, 3, 4))


def _patterns() -> tuple[str, str]:
    """DuckDB list literals: order-in-block and line-in-order for each (pattern, pos)."""
    orders, lines = [], []
    for sizes in _SIZES:
        o, n = [], []
        for k, size in enumerate(sizes):
            o += [k] * size
            n += list(range(size))
        orders.append("[" + ",".join(map(str, o)) + "]")
        lines.append("[" + ",".join(map(str, n)) + "]")
    return "[" + ",".join(orders) + "]", "[" + ",".join(lines) + "]"


def _pick(values: list[str], seed: str) -> str:
    """SQL: one of ``values`` (SQL literals) chosen by the hash of ``seed``."""
    return f"([{', '.join(values)}])[1 + CAST(hash({seed}) % {len(values)} AS INTEGER)]"


def _s(*values: str | None) -> list[str]:
    return ["NULL" if v is None else literal(v) for v in values]


GIVEN = _s("James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
           "José", "María", "Zoë", "Chloé", "Mary-Jane", "Jean-Luc", "Siobhán", "Øyvind",
           "Wei", "Aisha", "Mohammed", "Priya", "D'Andre", "Ana Sofía", "Björn", "Noah",
           "Olivia", "Liam", "Emma", "Lucas", "Mia", "Ethan")
SURNAME = _s("Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis",
             "Rodríguez", "Martínez", "O'Brien", "McDonald", "van der Berg", "Nguyễn", "Müller",
             "Kowalski", "Lee", "Walker", "Hall", "Allen", "St. John", "Smith-Jones", "Øster",
             "Dubois", "Rossi", "Kim", "Patel", "Cohen", "López", "Young")
DOMAINS = _s("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "aol.com",
             "comcast.net", "example.org", "proton.me", "me.com")
US_PLACES = [  # city, state written several ways, ZIP, area code
    ("San Francisco", ["CA", "California", "calif", "Ca."], "94105", "415"),
    ("New York", ["NY", "New York", "N.Y.", "ny"], "10001", "212"),
    ("St. Louis", ["MO", "Missouri", "mo"], "63101", "314"),
    ("Winston-Salem", ["NC", "North Carolina", "N. Carolina"], "27101", "336"),
    ("Austin", ["TX", "Texas", "tex"], "78701", "512"),
    ("Seattle", ["WA", "Washington", "wash"], "98101", "206"),
    ("Miami", ["FL", "Florida", "fla"], "33101", "305"),
    ("Chicago", ["IL", "Illinois", "ill"], "60601", "312"),
    ("Boston", ["MA", "Massachusetts", "mass"], "02108", "617"),
    ("Coeur d'Alene", ["ID", "Idaho"], "83814", "208"),
    ("Menlo Park", ["CA", "california"], "94025", "650"),
    ("Philadelphia", ["PA", "Pennsylvania", "penn"], "19103", "215"),
]
CATEGORIES = _s("Apparel", "Footwear", "Home", "Beauty", "Electronics", "Toys", "Grocery", None)
BRANDS = _s("ACME Essentials", "ACME Pro", "Northwind", "Contoso", None)


def _customers_sql(customers: int) -> str:
    h = "hash(i, '{}')"
    places = []
    for city, states, zip_code, area in US_PLACES:
        places.append(f"{{'city': {literal(city)}, 'states': [{', '.join(_s(*states))}], "
                      f"'zip': {literal(zip_code)}, 'area': {literal(area)}}}")
    place = f"([{', '.join(places)}])[1 + CAST(hash(i, 'place') % {len(places)} AS INTEGER)]"
    # Local parts of emails and digits of phones: from the customer number.
    sub = "lpad(CAST(hash(i, 'sub') % 10000000 AS VARCHAR), 7, '0')"
    return f"""
    WITH base AS (
        SELECT i, {place} AS p, hash(i, 'kind') % 100 AS kind, hash(i, 'mess') % 100 AS mess,
               {_pick(GIVEN, "i, 'given'")} AS g, {_pick(SURNAME, "i, 'sur'")} AS s,
               {sub} AS sub
        FROM range({customers}) AS t(i)
    ),
    located AS (
        SELECT *,
            CASE WHEN kind < 88 THEN 'US' WHEN kind < 93 THEN 'GB' WHEN kind < 97 THEN 'CA'
                 ELSE 'DE' END AS cc
        FROM base
    )
    SELECT
        i AS customer_id,
        'AMP-' || md5(CAST(i AS VARCHAR))[1:16] AS amperity_id,
        CASE
            WHEN {h.format('em')} % 100 < 7 THEN NULL
            WHEN {h.format('em')} % 100 < 9 THEN lower(g) || ' at ' || 'gmail.com'
            WHEN {h.format('em')} % 100 < 10 THEN 'n/a'
            WHEN {h.format('em')} % 100 < 30 THEN '  ' || upper(strip_accents(g)) || '.'
                 || strip_accents(replace(replace(s, ' ', ''), '''', '')) || i || '@'
                 || upper({_pick(DOMAINS, "i, 'dom'")}) || ' '
            ELSE lower(strip_accents(g)) || '.' || lower(strip_accents(replace(replace(s, ' ', ''),
                 '''', ''))) || i || '@' || {_pick(DOMAINS, "i, 'dom'")}
        END AS email,
        CASE
            WHEN {h.format('ph')} % 100 < 15 THEN NULL
            WHEN {h.format('ph')} % 100 < 17 THEN '555-0100'  -- too short: dropped
            WHEN cc = 'GB' THEN CASE WHEN mess < 50 THEN '020 7' || sub[1:3] || ' ' || sub[4:7]
                                     ELSE '+44 20 7' || sub[1:3] || ' ' || sub[4:7] END
            WHEN cc = 'DE' THEN CASE WHEN mess < 50 THEN '030 ' || sub
                                     ELSE '0049 30 ' || sub END
            ELSE CASE hash(i, 'fmt') % 6
                WHEN 0 THEN '(' || p.area || ') ' || sub[1:3] || '-' || sub[4:7]
                WHEN 1 THEN p.area || '.' || sub[1:3] || '.' || sub[4:7]
                WHEN 2 THEN '+1 ' || p.area || ' ' || sub[1:3] || ' ' || sub[4:7]
                WHEN 3 THEN p.area || sub
                WHEN 4 THEN '1-' || p.area || '-' || sub[1:3] || '-' || sub[4:7]
                ELSE ' ' || p.area || '-' || sub[1:3] || '-' || sub[4:7] || ' ' END
        END AS phone,
        CASE WHEN mess < 10 THEN upper(g) WHEN mess < 20 THEN ' ' || lower(g) || ' '
             ELSE g END AS given_name,
        CASE WHEN mess % 7 = 0 THEN upper(s) WHEN mess % 11 = 0 THEN s || '.' ELSE s END
            AS surname,
        CASE WHEN hash(i, 'bd') % 100 < 30 THEN NULL
             ELSE DATE '1950-01-01' + CAST(hash(i, 'bd') % 20000 AS INTEGER) END AS birthdate,
        {_pick(_s("F", "female", "M", "Male", "f", "m", "", None, "unknown", "Woman"),
               "i, 'ge'")} AS gender,
        CASE cc WHEN 'US' THEN CASE WHEN mess < 15 THEN upper(p.city) || ' '
                                    ELSE p.city END
                WHEN 'GB' THEN 'London' WHEN 'CA' THEN 'Montréal' ELSE 'Berlin' END AS city,
        CASE cc WHEN 'US' THEN p.states[1 + CAST(hash(i, 'st') % len(p.states) AS INTEGER)]
                WHEN 'CA' THEN 'Québec' ELSE NULL END AS state,
        CASE cc WHEN 'US' THEN CASE WHEN mess < 25 THEN p.zip || '-' || sub[1:4]
                                    WHEN mess < 30 THEN ' ' || p.zip || ' '
                                    ELSE p.zip END
                WHEN 'GB' THEN 'SW1A 1AA' WHEN 'CA' THEN 'H2X 1Y4' ELSE '10115' END AS postal,
        CASE cc WHEN 'US' THEN {_pick(_s("US", "USA", "United States", "us ", None), "i, 'co'")}
                WHEN 'GB' THEN {_pick(_s("GB", "UK", "United Kingdom"), "i, 'co'")}
                WHEN 'CA' THEN {_pick(_s("CA", "Canada", "CAN"), "i, 'co'")}
                ELSE {_pick(_s("DE", "Germany", "DEU"), "i, 'co'")} END AS country
    FROM located
    """


def _lines_sql(rows: int, customers: int, now: dt.datetime) -> str:
    orders, positions = _patterns()
    end = int(now.timestamp()) - 3600
    span = 6 * 86400 - 7200
    return f"""
    WITH lines AS (
        SELECT i // 15 AS block, i % 15 AS pos,
               CAST(hash(i // 15, 'pattern') % {len(_SIZES)} AS INTEGER) AS pat
        FROM range({rows}) AS t(i)
    ),
    placed AS (
        SELECT block * 5 + ({orders})[1 + pat][1 + pos] AS order_no,
               ({positions})[1 + pat][1 + pos] AS line_no
        FROM lines
    ),
    priced AS (
        SELECT order_no, line_no,
               CAST((hash(order_no, 'prod') % 500 + line_no * 37) % 500 AS INTEGER) AS product,
               hash(order_no, 'cur') % 1000 AS cur,
               hash(order_no, line_no, 'q') % 100 AS q
        FROM placed
    )
    SELECT
        'ORD-' || lpad(CAST(order_no AS VARCHAR), 10, '0') AS order_id,
        CAST(CASE WHEN hash(order_no, 'guest') % 100 < 5 THEN {customers} + order_no
             ELSE hash(order_no, 'cust') % {customers} END AS BIGINT) AS customer_id,
        CAST(line_no AS INTEGER) AS line_no,
        'SKU-' || (10000 + product) AS product_id,
        ([{", ".join(BRANDS)}])[1 + product % {len(BRANDS)}] AS brand,
        ([{", ".join(CATEGORIES)}])[1 + product % {len(CATEGORIES)}] AS category,
        CAST(CASE WHEN q < 3 THEN -1 WHEN q < 80 THEN 1 WHEN q < 92 THEN 2 WHEN q < 97 THEN 3
                  WHEN q < 99 THEN 6 ELSE 12 END AS INTEGER) AS quantity,
        CAST((299 + (hash(product, 'price') % 40000)) / 100 AS DECIMAL(10, 2)) AS price,
        CASE WHEN cur < 985 THEN 'USD' WHEN cur < 992 THEN ' usd' WHEN cur < 996 THEN 'CAD'
             WHEN cur < 998 THEN '' WHEN line_no = 0 THEN 'EUR' ELSE 'USD' END AS currency,
        make_timestamp(CAST({end} - hash(order_no, 'time') % {span} AS BIGINT) * 1000000)
            AS order_datetime,
        CAST(hash(order_no, 'store') % 300 AS INTEGER) AS store_id
    FROM priced
    """


JOB_SQL = """SELECT
  c.amperity_id AS external_id,
  c.email, c.phone, c.given_name, c.surname, c.birthdate, c.gender,
  c.city, c.state, c.postal, c.country,
  l.order_id, l.quantity, l.product_id, l.brand, l.category,
  l.order_datetime AS timestamp,
  l.price, l.currency,
  'physical_store' AS action_source
FROM order_lines l
LEFT JOIN customers c ON c.customer_id = l.customer_id
"""

JOB_HEADER = """/* offramp
destination = "meta"
[settings]
dataset_id = "123456789012345"
base_url = "${META_BASE_URL:-http://127.0.0.1:9}"
access_token_env = "META_ACCESS_TOKEN"
default_country = "US"
concurrency = 4
*/
"""


#: The google job (``bench/run.py --destination google``): the same rows, the columns the
#: google destination reads. No status polling, and a rate that is not the limit: the
#: benchmark measures offramp, not the Cloud project's quota (docs/benchmarks.md).
GOOGLE_JOB_SQL = """SELECT
  c.email, c.phone, c.given_name, c.surname, c.postal, c.country,
  l.order_id, l.quantity, l.product_id,
  l.order_datetime AS timestamp,
  l.price, l.currency
FROM order_lines l
LEFT JOIN customers c ON c.customer_id = l.customer_id
"""

GOOGLE_JOB_HEADER = """/* offramp
destination = "google"
[settings]
operating_account_id = "1234567890"
conversion_action_id = "555000111"
ad_user_data = "granted"
base_url = "${META_BASE_URL:-http://127.0.0.1:9}"
token_uri = "${META_BASE_URL:-http://127.0.0.1:9}/token"
default_country = "US"
concurrency = 4
requests_per_minute = 600000
status_wait_seconds = 0
*/
"""


def generate(root: Path, rows: int, now: dt.datetime) -> dict[str, float]:
    """Write the warehouse (DuckDB file and Parquet folder) and the project into ``root``.

    Returns seconds taken per step.
    """
    import time

    root.mkdir(parents=True, exist_ok=True)
    customers = max(100, rows // 6)
    duck = root / "warehouse.duckdb"
    parquet = root / "parquet"
    parquet.mkdir(exist_ok=True)
    timings = {}
    t = time.perf_counter()
    with WarehouseWriter(Warehouse("duckdb", duck)) as writer:
        con = writer.con
        assert con is not None
        con.execute("SET TimeZone = 'UTC'").fetchall()
        con.execute(f"CREATE OR REPLACE TABLE customers AS {_customers_sql(customers)}").fetchall()
        con.execute(f"CREATE OR REPLACE TABLE order_lines AS "
                    f"{_lines_sql(rows, customers, now)}").fetchall()
        con.execute("CHECKPOINT").fetchall()
        timings["duckdb"] = time.perf_counter() - t
        t = time.perf_counter()
        for table in ("customers", "order_lines"):
            target = literal(str(parquet / f"{table}.parquet"))
            con.execute(f"COPY {table} TO {target} (FORMAT parquet, ROW_GROUP_SIZE 122880)"
                        ).fetchall()
        timings["parquet"] = time.perf_counter() - t
    (root / "queries").mkdir(exist_ok=True)
    (root / "queries" / "bench.sql").write_text(JOB_HEADER + JOB_SQL, encoding="utf-8")
    (root / "queries" / "bench_google.sql").write_text(GOOGLE_JOB_HEADER + GOOGLE_JOB_SQL,
                                                       encoding="utf-8")
    write_config(root, "duckdb")
    return timings


def write_config(root: Path, kind: str, engine: dict[str, str] | None = None) -> None:
    """``offramp.toml`` pointing at the DuckDB file or the Parquet folder."""
    target = "warehouse.duckdb" if kind == "duckdb" else "parquet"
    text = f'[warehouse]\n{kind} = "{target}"\n'
    if engine:
        text += "\n[engine]\n" + "".join(f'{k} = "{v}"\n' for k, v in engine.items())
    (root / "offramp.toml").write_text(text, encoding="utf-8")


def counts(root: Path) -> dict[str, int]:
    """Rows, orders and customers in the generated warehouse."""
    with Engine(Warehouse("duckdb", root / "warehouse.duckdb")) as engine:
        (lines, orders), = engine.rows(
            "SELECT count(*), count(DISTINCT order_id) FROM order_lines")
        (customers,), = engine.rows("SELECT count(*) FROM customers")
    return {"line_items": lines, "orders": orders, "customers": customers}
