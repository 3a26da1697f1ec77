"""Does offramp produce the same events as the naive baseline?

Two checks, both outside the timed runs:

1. **Shaped events.** For a sample of orders (all of them at small N, at least
   10,000 otherwise) the Meta destination's shaping query is run with the same
   clock and settings as the measured runs, over the job's rows of those orders,
   and each event (payload parsed as JSON, or reject reason) is compared with the
   naive baseline's, event key by event key.
2. **The wire.** The loopback sink kept every n-th request body of the last
   end-to-end run; each is decoded (multipart form, then JSON) and every event in it is
   compared with the shaping query's event for its order (and with the naive
   event, where the naive baseline's sample holds the same order).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from connector.engines.warehouse import Engine, literal
from connector.kit.destination import RunContext
from connector.kit.emulator import form_fields
from connector.project import Project
from connector.run import pipeline


def order_bound(rows: int, total: int) -> str:
    """The naive baseline reads orders below this id: about ``rows`` of the ``total``
    line items (all of them when ``rows >= total``)."""
    if rows >= total:
        return "ORD-~"  # '~' sorts after every digit
    return "ORD-" + str(max(1, rows // 3)).zfill(10)


def pick_sample(root: Path, bound: str, target: int = 20_000) -> list[str]:
    """About ``target`` order ids below ``bound`` (all of them if there are fewer)."""
    project = Project(root)
    with Engine(project.warehouse) as engine:
        (orders,), = engine.rows(
            f"SELECT count(DISTINCT order_id) FROM order_lines WHERE order_id < {literal(bound)}")
        step = max(1, orders // target)
        rows = engine.rows(
            f"SELECT DISTINCT order_id FROM order_lines WHERE order_id < {literal(bound)} "
            f"AND hash(order_id) % {step} = 0 ORDER BY 1")
    return [r[0] for r in rows]


def shaped_events(root: Path, now: dt.datetime, orders: list[str]) -> dict[str, dict[str, Any]]:
    """Event key -> {payload, reject_reason} from the destination's shaping SQL, for the
    job's rows of ``orders`` (shaping groups by order, so each order's events depend on
    its own rows only)."""
    project = Project(root)
    job = project.job("bench")
    with Engine(project.warehouse, temp_dir=project.spill,
                settings=project.engine_settings) as engine:
        prep = pipeline.prepare(engine, job)
        dest = prep.destination(prep.settings, RunContext(job.name, now, True, True))
        wanted = ", ".join(literal(o) for o in orders)
        source = f"(SELECT * FROM ({prep.sql}) AS q WHERE q.order_id IN ({wanted}))"
        shape = dest.shape_sql(source, prep.columns)
        rows = engine.rows(f"SELECT event_key, payload, reject_reason FROM ({shape})")
    # A rejected event's payload is never sent (the pipeline drops it): compare reasons.
    return {key: {"payload": None if reason else payload, "reject_reason": reason}
            for key, payload, reason in rows}


def compare(offramp: dict[str, dict[str, Any]], naive: dict[str, dict[str, Any]]) -> dict:
    """Compare event by event; payloads as parsed JSON."""
    problems: list[str] = []
    missing = sorted(set(naive) - set(offramp))
    extra = sorted(set(offramp) - set(naive))
    if missing:
        problems.append(f"{len(missing)} events only in the naive output, e.g. {missing[:3]}")
    if extra:
        problems.append(f"{len(extra)} events only in offramp's output, e.g. {extra[:3]}")
    same = 0
    for key in sorted(set(naive) & set(offramp)):
        a, b = offramp[key], naive[key]
        pa = json.loads(a["payload"]) if a["payload"] is not None else None
        pb = json.loads(b["payload"]) if b["payload"] is not None else None
        if pa == pb and a["reject_reason"] == b["reject_reason"]:
            same += 1
        elif len(problems) < 10:
            problems.append(f"{key}: offramp {a} != naive {b}")
    sent = sum(1 for v in naive.values() if v["payload"] is not None)
    return {"compared": len(naive), "identical": same, "with_payload": sent,
            "problems": problems, "ok": not problems and same == len(naive) > 0}


def wire_events(bodies: list[tuple[str, bytes]]) -> dict[str, Any]:
    """order_id -> event, from the (Content-Type, body) pairs the sink kept."""
    events: dict[str, Any] = {}
    for content_type, body in bodies:
        for event in json.loads(form_fields(body, content_type)["data"]):
            events[event["custom_data"]["order_id"]] = event
    return events


def compare_wire(wire: dict[str, Any], shaped: dict[str, dict[str, Any]],
                 naive: dict[str, dict[str, Any]]) -> dict:
    """Events seen on the wire against the shaping query's (same order ids) and, where
    the naive baseline made the same order, against the naive event."""
    same = compared_naive = same_naive = 0
    problems: list[str] = []
    for order_id, event in wire.items():
        ours = shaped.get(order_id, {}).get("payload")
        if ours is not None and json.loads(ours) == event:
            same += 1
        elif len(problems) < 10:
            problems.append(f"{order_id}: on the wire {event} != shaped {ours}")
        theirs = naive.get(order_id)
        if theirs is not None:
            compared_naive += 1
            expected = json.loads(theirs["payload"]) if theirs["payload"] is not None else None
            if event == expected:
                same_naive += 1
            elif len(problems) < 10:
                problems.append(f"{order_id}: on the wire {event} != naive {theirs}")
    return {"events": len(wire), "identical_to_shaped": same,
            "compared_with_naive": compared_naive, "identical_to_naive": same_naive,
            "problems": problems,
            "ok": not problems and same == len(wire) > 0 and same_naive == compared_naive}
