"""The attack harness at small scale: a Meta emulator that counts every event it
processes (duplicates included) and answers after a random pause, kill -9 at random
points of ``offramp run`` subprocesses (chained: kill, run again, kill ...), and the
checks every attack ends with: nothing lost, duplicates within the documented bound.

Everything random comes from one seeded :class:`random.Random`; each assertion message
names the seed, and ``OFFRAMP_ATTACK_SEED`` replays one.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from typing import Any

from reliability_kit import GatedMeta, Proc, Shop, spawn

from connector.kit.emulator import CONTROL, Request, Response


def seeds(default: list[int]) -> list[int]:
    """The seeds to run: ``OFFRAMP_ATTACK_SEED`` when set, else ``default``."""
    chosen = os.environ.get("OFFRAMP_ATTACK_SEED")
    return [int(chosen)] if chosen else default


class CountingMeta(GatedMeta):
    """The gated Meta emulator that counts, per order id, every event of every request
    it processed (accepted, duplicates included), and holds each API request a random
    pause (``pause`` seconds at most, from ``rng``) so that kills land mid-run."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.processed: Counter[str] = Counter()
        self.rng: random.Random | None = None
        self.pause = 0.0

    def _record(self, dataset_id: str, events: list[dict[str, Any]], now: float) -> None:
        self.processed.update(str(e["custom_data"]["order_id"]) for e in events)
        super()._record(dataset_id, events, now)

    def _dispatch(self, request: Request) -> Response | None:
        if self.rng is not None and self.pause and not request.path.startswith(CONTROL):
            with self.lock:
                wait = self.rng.uniform(0, self.pause)
            time.sleep(wait)
        return super()._dispatch(request)


def kill_somewhere(shop: Shop, rng: random.Random, requests: int) -> tuple[bool, str]:
    """Start ``offramp run sync`` and SIGKILL it at a random point: after ``k`` ledger
    commits, as the ``k``-th ledger write starts (the request's answer in hand), or a
    random time after the shaping query started. Returns whether the kill landed (the
    run may end first) and where it was aimed."""
    mode = rng.choice(["commits", "writing", "time"])
    k = rng.randrange(0, requests)
    delay = rng.uniform(0.0, 1.0)
    where = {"commits": f"after {k} commits", "writing": f"at ledger write {k + 1}",
             "time": f"{delay:.2f} s into the shaping"}[mode]
    proc = spawn(shop, "run", "sync", "--quiet")

    def due(notes: list[str]) -> bool:
        if mode == "commits":
            return sum(1 for n in notes if n.startswith("record ")) >= k
        if mode == "writing":
            return sum(1 for n in notes if n.startswith("recording ")) > k
        return "stream" in notes

    if not _wait(proc, due):
        proc.finish()
        return False, where
    if mode == "time":
        time.sleep(delay)
    proc.popen.send_signal(signal.SIGKILL)
    code, _, _ = proc.finish()
    return code == -signal.SIGKILL, where


def _wait(proc: Proc, due: Any, timeout: float = 60.0) -> bool:
    """Wait until ``due(notes)``; False when the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if due(proc.notes()):
            return True
        if proc.popen.poll() is not None:
            return False
        time.sleep(0.002)
    raise AssertionError("the run neither reached the kill point nor ended")


def assert_nothing_lost(shop: Shop, emu: CountingMeta, orders: int, why: str) -> None:
    """Every order reached Meta and Meta kept it once; the ledger says delivered for all."""
    expected = {f"o{i:05d}" for i in range(orders)}
    kept = Counter(emu.accepted_ids())
    missing = expected - set(kept)
    assert not missing, f"{why}: {len(missing)} orders never reached Meta, e.g. {min(missing)}"
    assert set(kept) == expected and max(kept.values()) == 1, why
    ledger = shop.ledger()
    assert set(ledger) == expected and set(ledger.values()) == {"delivered"}, why


def assert_counts_add_up(shop: Shop, why: str) -> None:
    for run in shop.runs():
        parts = sum(run[n] or 0 for n in ("unchanged", "delivered", "rejected", "failed",
                                            "pending"))
        assert (run["events"] or 0) == parts, f"{why}: run {run['run_id']} {run}"
