"""The demo warehouse: Amperity's ``Customer_360`` and ``Unified_Itemized_Transactions``.

:func:`build_demo_warehouse` writes both tables, with the names and columns the Amperity
example query reads (``demo_query.sql``, returned by :func:`demo_query`), filled with
synthetic orders that carry the mess real warehouses have. Output is a pure function of
``orders``, ``seed`` and ``today``: one ``random.Random(seed)`` drives everything; no global
RNG, no wall clock.

Shape (defaults: 20,000 orders)
    * ``Customer_360``: 0.6 customers per order (12,000); each row one person.
    * ``Unified_Itemized_Transactions``: 1-6 items per order (mean 3.14), plus return rows,
      about 3.2 rows per order; orders spread over the 70 days before ``today`` (UTC),
      denser toward recent days: about 15% of orders fall in the last 7 days, 94% in 62.
    * Products SKU-10000 to SKU-10239 priced 2.99-899.00; ``item_revenue = price x quantity``
      exactly (DECIMAL(18,2)); channels ``store`` / ``online`` / ``phone``; brands
      ``ACME Essentials`` / ``ACME Pro`` / ``Northwind``.

The mess. Shares are of customers for ``Customer_360`` columns (for city, state, postal and
country: values that are not the canonical spelling, NULL included) and of orders or item
rows for transactions, measured on the default build.

=================  ============================================================  ========
column / kind      values                                                        share
=================  ============================================================  ========
email mixed case   ``John.Smith@EXAMPLE.COM``, ``John.Smith@Example.Com``        ~12%
email padded       ``"  jane.doe@example.org "``                                 ~6%
email invalid      ``n/a``, ``N/A``, ``none``, ``john@``, ``john.doe@example``,  ~4%
                   ``john.doe.example.com``, ``""``
email NULL         (including the no-contact customers below)                    ~16%
phone formats      ``(650) 555-1212``, ``650-555-1212``, ``650.555.1212``,       ~67%
                   ``+1 650 555 1212``, ``+1 (650) 555-1212``, ``1-650-...``,
                   ``001 650 555 1212``, ``6505551212``, ``16505551212``,
                   ``650-555-1212 x123`` (extension)
phone UK           ``+44 7700 900123``, ``07700 900123`` (no country code),      ~5%
                   ``+44 (0)7700 900123``, ``447700900123``
phone blank/NULL   ``""`` or NULL                                                ~28%
no contact         no usable email and no phone: 5% forced (NULL or ``""`` in    ~8%
                   both), the rest by chance
names accented     ``José``, ``Zoë``, ``Müller``, ``García``, ``Côté`` ...       ~10% each
names punctuated   ``O'Brien``, ``Anne-Marie``, ``St. John``, ``van der Berg``   5%; 8%
names cased        ``SMITH``, ``smith``, ``"  MÜLLER "``, ``" José  "``          18% each
names NULL         given name or surname missing                                 2% each
birthdate          DATE; NULL; ``1900-01-01`` placeholder                        22%; 1%
gender             ``F``, ``M``, ``Female``, ``male``, ``f``, ``x``, ``U``;      40% NULL
                   NULL
city               ``San José``/``San Jose``, ``St. Louis``/``Saint Louis``,     ~22%
                   ``SEATTLE``, ``seattle``, ``" Boston"``, ``Coeur d'Alene``
state              ``CA``, ``California``, ``calif.``, ``ny``, ``" CA "``,       ~43%
                   Canadian ``ON``/``Ontario``, UK ``England``; NULL
postal             ``94025``, ``94025-1234``, ``94025 1234``, ``2108`` (lost     ~30%
                   leading zero), ``"94025 "``, ``K1A 0B6``, ``k1a0b6``,
                   ``SW1A 1AA``; NULL
country            ``US``, ``USA``, ``United States``, ``us``, ``U.S.A.``,       ~60%
                   ``United States of America``, ``Canada``, ``CA``, ``ca``,
                   ``GB``, ``United Kingdom``, ``UK``; NULL
guest orders       ``amperity_id`` with no ``Customer_360`` row: the LEFT JOIN   7%
                   gives NULL customer columns
returns            later row, same ``order_id``, negative quantity and revenue,  ~2%
                   ``is_return`` true (3 in 4) or NULL; or the original row
                   flagged ``is_return = true`` with positive quantity           1%
cancellations      whole order ``is_cancellation = true``; or one item of it     2%; 1%
flags              ``is_cancellation`` / ``is_return`` NULL unless set; false    65% NULL
                   on 35% of orders
zero quantity      ``item_quantity = 0``, revenue 0.00: the example query's      0.5%
                   ``price`` is NaN (``0/0``)
future orders      ``order_datetime`` 2h-3d after ``today`` (clock skew)         0.2%
=================  ============================================================  ========

Currency is not in these tables: the query supplies it (``'USD' AS currency``).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from plugins.meta.demo_customers import customers
from plugins.meta.demo_orders import transactions

if TYPE_CHECKING:
    from connector.kit.warehouse import WarehouseWriter

CUSTOMERS = "Customer_360"
TRANSACTIONS = "Unified_Itemized_Transactions"
CUSTOMERS_PER_ORDER = 0.6
QUERY_FILE = Path(__file__).with_name("demo_query.sql")

CUSTOMER_SCHEMA = pa.schema([
    ("amperity_id", pa.string()), ("email", pa.string()), ("phone", pa.string()),
    ("given_name", pa.string()), ("surname", pa.string()), ("birthdate", pa.date32()),
    ("gender", pa.string()), ("city", pa.string()), ("state", pa.string()),
    ("postal", pa.string()), ("country", pa.string()),
])
TRANSACTION_SCHEMA = pa.schema([
    ("amperity_id", pa.string()), ("order_id", pa.string()), ("product_id", pa.string()),
    ("item_quantity", pa.int32()), ("item_revenue", pa.decimal128(18, 2)),
    ("order_datetime", pa.timestamp("us")), ("purchase_channel", pa.string()),
    ("purchase_brand", pa.string()), ("is_cancellation", pa.bool_()),
    ("is_return", pa.bool_()), ("store_id", pa.string()),
])


def demo_tables(*, orders: int = 20_000, seed: int = 7,
                today: dt.date) -> dict[str, pa.Table]:
    """The two demo tables as Arrow tables, keyed by table name (see the module docstring).

    :param orders: how many orders (at least 1); customers are 0.6 per order.
    :param seed: the random seed; same ``orders``, ``seed`` and ``today`` give equal tables.
    :param today: the day the data is "as of" (UTC): orders end at its midnight, except a
        few clock-skewed ones after it.
    """
    if orders < 1:
        raise ValueError(f"orders must be at least 1, not {orders}")
    master = random.Random(seed)
    people_rng = random.Random(master.getrandbits(64))
    orders_rng = random.Random(master.getrandbits(64))
    people = customers(people_rng, max(1, round(orders * CUSTOMERS_PER_ORDER)), today)
    items = transactions(orders_rng, orders, [str(i) for i in people["amperity_id"]], today)
    seconds = pa.array(items["order_datetime"], pa.int64())
    items["order_datetime"] = pc.multiply(seconds, 1_000_000).cast(pa.timestamp("us"))
    return {
        CUSTOMERS: pa.Table.from_pydict(people, schema=CUSTOMER_SCHEMA),
        TRANSACTIONS: pa.Table.from_pydict(items, schema=TRANSACTION_SCHEMA),
    }


def build_demo_warehouse(writer: WarehouseWriter, *, orders: int = 20_000, seed: int = 7,
                         today: dt.date) -> dict[str, int]:
    """Write ``Customer_360`` and ``Unified_Itemized_Transactions`` through ``writer``,
    replacing whatever those tables held. Returns table name -> rows written."""
    tables = demo_tables(orders=orders, seed=seed, today=today)
    return {name: writer.replace(name, table, where={}) for name, table in tables.items()}


def demo_query() -> str:
    """Amperity's example query for Meta offline events, exactly as its docs print it."""
    return QUERY_FILE.read_text(encoding="utf-8")
