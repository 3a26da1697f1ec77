"""Synthetic ``Unified_Itemized_Transactions`` rows: orders, their items, returns, cancellations.

Proportions and the reason for each kind of mess are in :mod:`plugins.meta.demo_data`'s
docstring. Timestamps are whole seconds, naive UTC, measured back from midnight (UTC) at
the start of ``today``: every regular order is in the past whatever the time of day, and
the clock-skewed ones are at least two hours after that midnight.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from decimal import Decimal

from plugins.meta.demo_customers import new_id
from plugins.meta.demo_pick import Pick, chance

DAY = 86_400
HISTORY_DAYS = 70
BRANDS = ("ACME Essentials", "ACME Pro", "Northwind")
CHANNELS = ("store", "online", "phone")
STORES = 30
MIN_CENTS, MAX_CENTS = 299, 89_900

GUEST_SHARE = 0.07  # amperity_id with no Customer_360 row
FUTURE_SHARE = 0.002  # register clock ahead: order_datetime after today
CANCEL_ORDER_SHARE = 0.02  # every item is_cancellation = true
CANCEL_ITEM_SHARE = 0.01  # one item of the order cancelled
EXPLICIT_FLAG_SHARE = 0.35  # flags filled with false instead of NULL
RETURN_SHARE = 0.03  # per item: a later return row (negative quantity) under the same order
RETURN_FLAGGED_SHARE = 0.75  # of those return rows, is_return = true (else NULL)
FLAGGED_ORIGINAL_SHARE = 0.01  # per item: positive row marked is_return = true, no return row
ZERO_QUANTITY_SHARE = 0.005  # per item: quantity 0, revenue 0.00 (free gift, adjustment)

_brand = Pick([(BRANDS[0], 50.0), (BRANDS[1], 30.0), (BRANDS[2], 20.0)])
_channel = Pick([("store", 68.0), ("online", 27.0), ("phone", 5.0)])
_items = Pick([(1, 15.0), (2, 22.0), (3, 25.0), (4, 18.0), (5, 12.0), (6, 8.0)])
_quantity = Pick([(1, 75.0), (2, 15.0), (3, 5.0), (4, 2.0), (6, 2.0), (12, 1.0)])
# Hour of day (UTC) when US stores are busy: 14:00-05:00 UTC is 10:00-21:00 across US zones.
_hour = Pick(list(enumerate([6.0, 5, 4, 3, 2, 1, 1, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 9, 9, 8, 8,
                             7, 7])))


@dataclass(frozen=True)
class Product:
    product_id: str
    cents: int
    brand: str


def catalog(rng: random.Random, count: int = 240) -> list[Product]:
    """``count`` products, SKU-10000 upward, priced 2.99-899.00 (log-uniform, retail endings),
    shuffled so that popularity (low index = popular) does not follow price."""
    products = []
    for i in range(count):
        if i == 0:
            cents = MIN_CENTS
        elif i == 1:
            cents = MAX_CENTS
        else:
            dollars = math.exp(rng.uniform(math.log(2.99), math.log(899.0)))
            ending = 99 if dollars < 20 else rng.choice((99, 49, 0))
            cents = min(MAX_CENTS, max(MIN_CENTS, int(dollars) * 100 + ending))
        products.append(Product(f"SKU-{10_000 + i}", cents, _brand(rng)))
    rng.shuffle(products)
    return products


def _order_times(rng: random.Random, count: int, midnight: int) -> list[int]:
    """Epoch seconds of ``count`` orders over the ``HISTORY_DAYS`` days before ``midnight``,
    sorted; half uniform, half denser toward recent days (linearly decreasing density)."""
    times = []
    for _ in range(count):
        u = rng.random()
        days_back = HISTORY_DAYS * u if rng.random() < 0.5 else HISTORY_DAYS * (1 - math.sqrt(u))
        day = min(int(days_back), HISTORY_DAYS - 1)
        seconds = _hour(rng) * 3600 + rng.randrange(3600)
        times.append(midnight - (day + 1) * DAY + seconds)
    times.sort()
    return times


def _store(rng: random.Random, channel: str) -> str | None:
    if channel == "store":
        return f"STORE-{rng.randint(1, STORES):04d}"
    if channel == "online":
        return "WEB-US" if rng.random() < 0.6 else None
    return "CALL-CENTER"


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def transactions(rng: random.Random, orders: int, customer_ids: list[str],
                 today: dt.date) -> dict[str, list[object]]:
    """Item rows for ``orders`` orders as column lists in ``Unified_Itemized_Transactions``
    order; ``order_datetime`` holds epoch seconds (the caller makes them timestamps)."""
    midnight = int((dt.datetime.combine(today, dt.time()) - dt.datetime(1970, 1, 1))
                   .total_seconds())
    products = catalog(rng)
    cols: dict[str, list[object]] = {name: [] for name in (
        "amperity_id", "order_id", "product_id", "item_quantity", "item_revenue",
        "order_datetime", "purchase_channel", "purchase_brand", "is_cancellation", "is_return",
        "store_id")}

    def add(amperity_id: str, order_id: str, product: Product, quantity: int, when: int,
            channel: str, cancelled: bool | None, returned: bool | None,
            store: str | None) -> None:
        cols["amperity_id"].append(amperity_id)
        cols["order_id"].append(order_id)
        cols["product_id"].append(product.product_id)
        cols["item_quantity"].append(quantity)
        cols["item_revenue"].append(_money(product.cents * quantity))
        cols["order_datetime"].append(when)
        cols["purchase_channel"].append(channel)
        cols["purchase_brand"].append(product.brand)
        cols["is_cancellation"].append(cancelled)
        cols["is_return"].append(returned)
        cols["store_id"].append(store)

    n_customers = len(customer_ids)
    for rank, when in enumerate(_order_times(rng, orders, midnight)):
        order_id = f"ORD-{1_000_001 + rank}"
        if chance(rng, GUEST_SHARE):
            amperity_id = new_id(rng)
        else:  # a skewed draw: a few loyal customers order often, most rarely
            amperity_id = customer_ids[int(n_customers * rng.random() ** 1.5)]
        if chance(rng, FUTURE_SHARE):
            when = midnight + rng.randrange(2 * 3600, 3 * DAY)
        channel = _channel(rng)
        store = _store(rng, channel)
        flag = False if chance(rng, EXPLICIT_FLAG_SHARE) else None
        n_items = _items(rng)
        cancel_all = chance(rng, CANCEL_ORDER_SHARE)
        cancel_line = rng.randrange(n_items) if chance(rng, CANCEL_ITEM_SHARE) else -1
        later: list[tuple[Product, int, int, bool | None]] = []
        for line in range(n_items):
            product = products[int(len(products) * rng.random() ** 2)]
            quantity = 0 if chance(rng, ZERO_QUANTITY_SHARE) else _quantity(rng)
            cancelled = True if cancel_all or line == cancel_line else flag
            returned = True if chance(rng, FLAGGED_ORIGINAL_SHARE) else flag
            add(amperity_id, order_id, product, quantity, when, channel, cancelled, returned,
                store)
            if quantity > 0 and not cancelled and chance(rng, RETURN_SHARE):
                back = when + rng.randrange(DAY, 21 * DAY)
                flagged = True if chance(rng, RETURN_FLAGGED_SHARE) else None
                if back < midnight:
                    later.append((product, -rng.randint(1, quantity), back, flagged))
        for product, quantity, back, flagged in later:
            add(amperity_id, order_id, product, quantity, back, channel, flag, flagged, store)
    return cols
