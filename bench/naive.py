"""The naive baseline: the same job done row by row in Python.

What a careful engineer writes without offramp: fetch the query's rows from
DuckDB as tuples, make a dict per row, normalize with ``re``/``str``, group line
items by order in a dict, hash each order's customer fields with ``hashlib``,
build each event with ``json.dumps``, and ``requests.post`` 1,000-event
multipart form bodies to the API. It follows the Meta destination's rules
(``plugins/meta/shaping.py``, ``connector/kit/pii.py``; field by field in
``bench/naive_rules.py``) for the columns of the benchmark's job, so both produce the
same events; ``bench/verify.py`` checks it.

It keeps nothing per customer between orders (no cache), which is what makes it
naive, and it holds every row until the last one is read (the grouping dict).

Run by ``bench/run.py`` in a child process::

    python -m bench.naive CONFIG.json
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from bench.naive_rules import (
    CONTENTS,
    CONTENTS_JSON,
    COUNTRIES,
    CURRENCIES,
    CUSTOMER,
    RETURN,
    STATES,
    birthdate,
    city,
    country_key,
    email,
    gender,
    hashed,
    item_json,
    name,
    number,
    phone,
    postal,
    state_key,
    text,
)
from connector.engines.warehouse import Engine
from connector.kit import pii
from connector.project import Project
from plugins.meta.settings import (
    ACTION_SOURCES,
    DEFAULT_EVENT_NAMES,
    STANDARD_EVENTS,
    MetaSettings,
)


# -- rows, orders, events ---------------------------------------------------------------
class Shaper:
    """Meta events from the job's rows, the way ``plugins/meta/shaping.py`` makes them."""

    def __init__(self, settings: MetaSettings, now: dt.datetime, first_send: bool):
        self.s = settings
        self.now = int(now.timestamp())
        self.window = settings.window_days * 86400
        self.first_window = (settings.first_send_window_days if first_send
                             else settings.window_days) * 86400
        self.names = {**DEFAULT_EVENT_NAMES, **settings.event_names}
        self.default_cc = pii.calling_code(settings.default_country) \
            if settings.default_country else None
        self.default_country = settings.default_country.lower() \
            if settings.default_country else None

    def row(self, r: dict[str, Any]) -> dict[str, Any]:
        """Typed, row-level values (the ``rows`` CTE)."""

        def num(v: Any) -> float | None:
            try:
                return None if v is None else float(v)
            except (TypeError, ValueError):
                return None

        ts = r.get("timestamp")
        when = None
        if isinstance(ts, dt.datetime):
            aware = ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)
            when = math.floor(aware.timestamp())
        return {
            "order_id": text(r.get("order_id")),
            "quantity": num(r.get("quantity")),
            "price": num(r.get("price")),
            "currency": (text(r.get("currency")) or "").upper() or None,
            "event_time": when,
            "product_id": text(r.get("product_id")),
            "brand": text(r.get("brand")),
            "category": text(r.get("category")),
            "action_source": (text(r.get("action_source")) or "").lower()
            or self.s.default_action_source,
            "event_name": text(r.get("event_name")) or "Purchase",
            **{k: r.get(k) for k in CUSTOMER},
        }

    def user_data(self, o: dict[str, Any]) -> dict[str, str]:
        ckey = country_key(o["country"])
        alpha2, calling = COUNTRIES.get(ckey, (None, None)) if ckey else (None, None)
        country = alpha2 or self.default_country
        skey = state_key(o["state"])
        fields = {
            "em": hashed(o["email"], email(o["email"])),
            "ph": hashed(o["phone"], phone(o["phone"], calling or self.default_cc)),
            "fn": hashed(o["given_name"], name(o["given_name"])),
            "ln": hashed(o["surname"], name(o["surname"])),
            "db": hashed(o["birthdate"], birthdate(o["birthdate"])),
            "ge": hashed(o["gender"], gender(o["gender"])),
            "ct": hashed(o["city"], city(o["city"])),
            "st": hashed(o["state"], STATES.get(skey, skey) if skey else None),
            "zp": hashed(o["postal"], postal(o["postal"], country)),
            "country": hashed(o["country"], country),
            "external_id": hashed(o["external_id"], text(o["external_id"])),
        }
        return {k: v for k, v in fields.items() if v is not None}

    def order(self, order_id: str, lines: list[dict[str, Any]]) -> tuple[str | None, str | None]:
        """(event JSON, None) or (None, reject reason) for one order's line items."""

        def low(key: str) -> Any:
            values = [r[key] for r in lines if r[key] is not None]
            return min(values) if values else None

        o = {k: low(k) for k in ("email", "phone", "given_name", "surname", "birthdate",
                                 "gender", "city", "state", "postal", "country",
                                 "external_id", "event_time", "category")}
        currencies = sorted({r["currency"] for r in lines if r["currency"] is not None})
        sources = {r["action_source"] for r in lines}
        raw_name = low("event_name")
        event_name = self.names.get(raw_name, raw_name)
        event_names = {self.names.get(r["event_name"], r["event_name"]) for r in lines}
        action_source = min(sources)
        user = self.user_data(o)
        reason = None
        if o["event_time"] is None:
            reason = "timestamp is missing or not a time"
        elif any(r["quantity"] is None or not math.isfinite(r["quantity"])
                 or r["quantity"] > 1e7 for r in lines):
            reason = "quantity is missing, not a finite number, or absurd"
        elif any(r["quantity"] != math.floor(r["quantity"]) for r in lines):
            reason = ("quantity must be a whole number of units "
                      "(Meta's contents.quantity is an integer)")
        elif any(r["price"] is None or not math.isfinite(r["price"]) or abs(r["price"]) > 1e9
                 for r in lines):
            reason = "price is missing, not a finite number, or absurd"
        elif len(currencies) > 1:
            reason = f"mixed currencies in one order ({currencies[0]}, {currencies[-1]})"
        elif not currencies or currencies[0] not in CURRENCIES:
            shown = f"'{currencies[0]}'" if currencies else "NULL"
            reason = f"currency {shown} is not an ISO 4217 code"
        elif len(sources) > 1:
            reason = "more than one action_source in one order"
        elif len(event_names) > 1:
            reason = "more than one event_name in one order"
        elif action_source not in ACTION_SOURCES:
            reason = (f"action_source '{action_source}' is not one of "
                      f"{', '.join(ACTION_SOURCES)}")
        elif event_name not in STANDARD_EVENTS:
            reason = (f"event_name '{event_name}' is not a standard event: map it with "
                      "[settings] event_names")
        elif len({tuple(r[k] for k in CUSTOMER) for r in lines}) > 1:
            reason = ("the rows of this order carry different customer fields (email, phone, "
                      "name, address or ids): give every row of one order the same customer")
        elif action_source == "website":
            reason = "website events need client_user_agent, event_id and event_source_url"
        elif "em" not in user and "ph" not in user:
            reason = "no usable email or phone (missing or invalid after normalization)"
        elif o["event_time"] > self.now + 60:
            reason = "event_time is in the future"
        else:
            window = self.first_window if action_source == "physical_store" else self.window
            if o["event_time"] < self.now - window:
                reason = f"older than the {window // 86400}-day window Meta accepts"
        if reason:
            return None, reason
        # Each item's compact JSON text, sorted: the order offramp lists them in. The
        # texts go into the event's JSON as they are.
        items = sorted(item_json(r) for r in lines if r["product_id"] is not None)
        custom: dict[str, Any] = {
            "value": round(sum(r["price"] * r["quantity"] for r in lines), 2),
            "currency": currencies[0],
            "order_id": order_id,
            "num_items": number(float(sum(r["quantity"] for r in lines))),
            "content_type": self.s.content_types.get(o["category"], "product"),
        }
        if items:
            custom["contents"] = CONTENTS
        event = {"event_name": event_name, "event_time": o["event_time"],
                 "action_source": action_source, "event_id": order_id,
                 "user_data": user, "custom_data": custom}
        text = json.dumps(event)
        if items:
            text = text.replace(CONTENTS_JSON, "[" + ",".join(items) + "]", 1)
        return text, None


def post(url: str, token: str, events: list[str]) -> int:
    """One multipart form (requests' ``files=``, no file names), as offramp sends it."""
    response = requests.post(url, timeout=60, files={
        "data": (None, "[" + ",".join(events) + "]"), "access_token": (None, token)})
    response.raise_for_status()
    received = response.json()["events_received"]
    if received != len(events):
        raise RuntimeError(f"the sink received {received} of {len(events)} events")
    return len(response.request.body)


def fetch(engine: Engine, sql: str) -> Iterator[dict[str, Any]]:
    cursor = engine.con.execute(sql)
    columns = [d[0] for d in cursor.description]
    while True:
        chunk = cursor.fetchmany(10_000)
        if not chunk:
            return
        for values in chunk:
            yield dict(zip(columns, values, strict=True))


def run(config: dict[str, Any]) -> dict[str, Any]:
    project = Project(Path(config["root"]))
    job = project.job("bench")
    settings = MetaSettings.model_validate(job.settings)
    now = dt.datetime.fromtimestamp(config["now"], dt.UTC)
    shaper = Shaper(settings, now, first_send=True)
    sample = set(config.get("sample", []))
    url = f"{config['url']}/{settings.api_version}/{settings.dataset_id}/events"
    sql = f"SELECT * FROM ({job.sql}) WHERE order_id < {config['order_bound']!r}"
    kept: dict[str, dict[str, str | None]] = {}
    # Counted as offramp counts (RunCounts): a returned line is a line item refused on
    # its own, not an event.
    counts = {"rows_read": 0, "events": 0, "line_items": 0, "delivered": 0, "rejected": 0,
              "requests": 0, "bytes": 0}
    t0 = time.perf_counter()
    with Engine(project.warehouse, settings=project.engine_settings) as engine:
        orders: dict[str, list[dict[str, Any]]] = {}
        for raw in fetch(engine, sql):
            counts["rows_read"] += 1
            r = shaper.row(raw)
            order_id = r["order_id"]
            if order_id is None:
                continue  # not in the benchmark's data (offramp keys these by row number)
            if r["quantity"] is not None and r["quantity"] <= 0:
                key = f"{order_id}/{r['product_id'] or 'row?'}"
                counts["line_items"] += 1
                if order_id in sample:
                    kept[key] = {"payload": None, "reject_reason": RETURN}
                continue
            orders.setdefault(order_id, []).append(r)
        t_read = time.perf_counter()
        batch: list[str] = []
        for order_id, lines in orders.items():
            payload, reason = shaper.order(order_id, lines)
            counts["events"] += 1
            if order_id in sample:
                kept[order_id] = {"payload": payload, "reject_reason": reason}
            if reason:
                counts["rejected"] += 1
                continue
            batch.append(payload)  # type: ignore[arg-type]
            if len(batch) == 1000:
                counts["bytes"] += post(url, config["token"], batch)
                counts["requests"] += 1
                counts["delivered"] += len(batch)
                batch = []
        if batch:
            counts["bytes"] += post(url, config["token"], batch)
            counts["requests"] += 1
            counts["delivered"] += len(batch)
    elapsed = time.perf_counter() - t0
    return {"seconds": elapsed, "read_seconds": t_read - t0, "counts": counts, "kept": kept}


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    result = run(config)
    Path(config["kept_path"]).write_text(json.dumps(result.pop("kept")))
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
