"""Measure what chained kill -9 does to delivery, for docs/reliability.md (run by hand):

    PYTHONPATH=$PWD python tests/reliability/measure_attack.py --seeds 20 --kills 1 2 3

For each seed and number of kills: a job of ``--orders`` orders, ``--concurrency``
requests at a time, killed ``kills`` times in a row at random points (as
``test_reliability_attack.py`` does), then run to its end. Prints, per chain, the kills
that landed, the most copies of one event Meta processed, the raw duplicates, and
whether anything was lost; then the worst case per number of kills.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from attack_kit import CountingMeta, kill_somewhere  # noqa: E402
from reliability_kit import TOKEN, Shop  # noqa: E402


def chain(seed: int, kills: int, orders: int, concurrency: int) -> dict[str, int]:
    rng = random.Random(seed)
    emu = CountingMeta(tokens={TOKEN})
    emu.start()
    try:
        emu.rng, emu.pause = rng, 0.25
        with tempfile.TemporaryDirectory() as tmp:
            shop = Shop(Path(tmp) / "shop", emu.url)
            (shop.root / "queries").mkdir(parents=True)
            shop.write_orders(orders)
            shop.write_job(concurrency=concurrency)
            landed = 0
            for _ in range(kills):
                state = shop.project.state_path("sync").exists()
                done = sum(1 for s in shop.ledger().values() if s == "delivered") if state else 0
                if done == orders:
                    break
                killed, _ = kill_somewhere(shop, rng, -(-(orders - done) // 1000))
                landed += killed
            emu.pause = 0.0
            final = shop.run()
            lost = orders - len(set(emu.accepted_ids()))
            return {"landed": landed, "max_copies": max(emu.processed.values()),
                    "duplicates": emu.duplicates, "lost": lost,
                    "ok": int(final.status == "succeeded")}
    finally:
        emu.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--kills", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--orders", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    os.environ["META_ACCESS_TOKEN"] = TOKEN
    for kills in args.kills:
        worst = {"max_copies": 0, "duplicates": 0, "per_kill": 0, "lost": 0}
        for seed in range(args.seeds):
            r = chain(seed, kills, args.orders, args.concurrency)
            print(f"kills {kills} seed {seed}: {r}", flush=True)
            worst["max_copies"] = max(worst["max_copies"], r["max_copies"])
            worst["duplicates"] = max(worst["duplicates"], r["duplicates"])
            worst["lost"] = max(worst["lost"], r["lost"])
            if r["landed"]:
                worst["per_kill"] = max(worst["per_kill"], r["duplicates"] // r["landed"])
        print(f"== {kills} kills, {args.seeds} seeds: worst {worst}", flush=True)


if __name__ == "__main__":
    main()
