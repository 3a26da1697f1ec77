"""The naive baseline: the same job done row by row in Python.

What a careful engineer writes without offramp: fetch the query's rows from
DuckDB as tuples, make a dict per row, normalize with ``re``/``str``, group line
items by order in a dict, hash each order's customer fields with ``hashlib``,
build each event with ``json.dumps``, and ``requests.post`` 1,000-event
multipart form bodies to the API. It follows the Meta destination's rules
(``plugins/meta/shaping.py``, ``connector/pii.py``) for the columns of the
benchmark's job, so both produce the same events; ``bench/verify.py`` checks it.

It keeps nothing per customer between orders (no cache), which is what makes it
naive, and it holds every row until the last one is read (the grouping dict).

Run by ``bench/run.py`` in a child process::

    python -m bench.naive CONFIG.json
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import sys
import time
import unicodedata
from collections.abc import Iterator
from json.encoder import encode_basestring as _string  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

import requests

from connector.engines.warehouse import Engine
from connector.kit import pii
from connector.project import Project
from plugins.meta.settings import (
    ACTION_SOURCES,
    DEFAULT_EVENT_NAMES,
    STANDARD_EVENTS,
    MetaSettings,
)

RETURN = "quantity <= 0 (return or cancellation): line item not sent"
WS = "\t\n\f\r "  # what RE2's \s (DuckDB's regexes) matches
EMAIL = re.compile(r"[^@\t\n\f\r ]+@[^@\t\n\f\r ]+\.[^@\t\n\f\r ]+")
HEX64 = re.compile(r"[0-9a-fA-F]{64}")
NON_DIGIT = re.compile(r"[^0-9]")
INTL = re.compile(r"^[\t\n\f\r ]*(\+|00)")
SPACES = re.compile(r"[\t\n\f\r ]+")
US_ZIP = re.compile(r"^([0-9]{5})")
COUNTRIES = {key: (alpha2, code or None) for key, alpha2, code in pii._country_rows()}
STATES = dict(pii._state_rows())
CURRENCIES = set(pii.currencies())
#: Where an event's ``contents`` go, replaced in its JSON text by the items' JSON text.
#: Its JSON (``"\u0000contents"``) appears nowhere else: no text of the data holds a NUL.
CONTENTS = "\u0000contents"
_CONTENTS_JSON = json.dumps(CONTENTS)


# -- normalization, field by field (connector/pii.py) -------------------------------------
def text(value: Any) -> str | None:
    """Text without surrounding whitespace (what ``str.strip()`` removes), None if blank."""
    if value is None:
        return None
    s = str(value).strip()
    return s or None


#: The customer columns, as stored: every row of an order must carry the same ones.
CUSTOMER = ("email", "phone", "given_name", "surname", "birthdate", "gender", "city", "state",
            "postal", "country", "external_id")


def sha256(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def hashed(raw: Any, normalized: str | None) -> str | None:
    t = text(raw)
    if t is not None and HEX64.fullmatch(t):
        return t.lower()
    return sha256(normalized)


def email(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    t = t.lower()
    return t if EMAIL.fullmatch(t) else None


def phone(value: Any, cc: str | None) -> str | None:
    raw = text(value)
    if raw is None:
        return None
    digits = NON_DIGIT.sub("", raw)
    stripped = digits.lstrip("0")
    if INTL.match(raw):
        result = stripped
    elif cc is None:
        result = stripped
    elif cc == "1":
        result = "1" + stripped if len(stripped) == 10 else stripped
    elif digits.startswith(cc) and not digits.startswith("0") and len(digits) >= len(cc) + 8:
        result = digits
    else:
        result = cc + stripped
    return result if 7 <= len(result) <= 15 else None


def _drop(s: str, extra: str = "") -> str:
    return "".join(ch for ch in s
                   if unicodedata.category(ch)[0] not in "PS" and ch not in extra)


def name(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    cleaned = SPACES.sub(" ", _drop(t.lower())).strip(" ")
    return cleaned or None


def city(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    return _drop(t.lower(), "0123456789" + WS) or None


def state_key(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    return "".join(ch for ch in t.lower() if ch.isalpha()) or None


def country_key(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    return "".join(ch for ch in t.lower() if "a" <= ch <= "z") or None


def postal(value: Any, country: str | None) -> str | None:
    t = text(value)
    if t is None:
        return None
    v = "".join(ch for ch in t.lower() if ch not in WS)
    m = US_ZIP.match(v)
    us = m.group(1) if m else ""
    result = us if (country or "us") == "us" and us != "" else v.split("-")[0]
    return result or None


def birthdate(value: Any) -> str | None:
    if not isinstance(value, dt.date):
        return None  # the benchmark's column is a DATE
    return value.strftime("%Y%m%d") if 1900 <= value.year <= 2100 else None


def gender(value: Any) -> str | None:
    t = text(value)
    if t is None:
        return None
    t = t.lower()
    return "m" if t in ("m", "male", "man") else "f" if t in ("f", "female", "woman") else None


def number(x: float) -> int | float:
    """An integral number as an int (JSON ``2``, not ``2.0``)."""
    return int(x) if x == math.floor(x) and abs(x) < 1e15 else x


def _item(r: dict[str, Any]) -> str:
    """One item of ``contents`` as compact JSON text, in UTF-8 like DuckDB's."""
    text = (f'{{"id":{_string(r["product_id"])},"quantity":{number(r["quantity"])!r},'
            f'"item_price":{round(r["price"], 2)!r}')
    if r["brand"] is not None:
        text += ',"brand":' + _string(r["brand"])
    if r["category"] is not None:
        text += ',"category":' + _string(r["category"])
    return text + "}"


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
        items = sorted(_item(r) for r in lines if r["product_id"] is not None)
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
            text = text.replace(_CONTENTS_JSON, "[" + ",".join(items) + "]", 1)
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
