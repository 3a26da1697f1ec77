"""Old code against new, alternating, on the same data: ``python -m bench.ab``.

``python -m bench.ab --old /path/to/old-worktree --rows 1000000 --rounds 3``
generates the benchmark's project once (``--root`` keeps it between invocations), then
runs the same measurement (``--kind dry``, ``e2e`` or ``rerun``) with the old code and
with this checkout's, one after the other, ``--rounds`` times, each in a fresh child
process (``bench.measure``, its code taken from that checkout through ``PYTHONPATH``).
It prints wall and CPU seconds (user + system) and peak RSS per run, and the medians.

On a shared, loaded machine wall time moves with the load; runs that alternate see
the same load on average, and CPU seconds move less than wall seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import generate
from bench.run import TOKEN, child_env
from bench.sink import Sink

REPO = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old", type=Path, required=True, help="the old code's checkout")
    p.add_argument("--rows", type=int, default=1_000_000, help="line items to generate")
    p.add_argument("--root", type=Path, help="the project (generated when missing)")
    p.add_argument("--rounds", type=int, default=3, help="old/new pairs")
    p.add_argument("--kind", choices=("dry", "e2e", "rerun"), default="dry")
    p.add_argument("--memory-limit", help="DuckDB memory_limit ([engine] setting)")
    return p.parse_args(argv)


def measure(code: Path, root: Path, kind: str, env: dict[str, str], now: float
            ) -> dict[str, Any]:
    """One run of ``bench.measure`` with the code of the checkout ``code``."""
    state = root / ".offramp" / "state"
    if kind in ("dry", "e2e"):
        shutil.rmtree(state, ignore_errors=True)
    config = root.parent / "ab-config.json"
    config.write_text(json.dumps({"root": str(root), "now": now, "dry_run": kind == "dry"}))
    proc = subprocess.run([sys.executable, "-m", "bench.measure", str(config)], cwd=code,
                          env={**env, "PYTHONPATH": str(code)}, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{code}: {proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["status"] not in ("succeeded", "dry_run"):
        raise SystemExit(f"{code}: the run failed: {result['error']}")
    return result


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    root = args.root or Path(os.environ.get("TMPDIR", "/tmp")) / f"offramp-ab-{args.rows}"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = root / "ab-now.txt"
    if not (root / "offramp.toml").exists():
        print(f"generating {args.rows:,} line items in {root} ...", flush=True)
        generate.generate(root, args.rows, now)
        stamp.write_text(str(now.timestamp()))
    engine = {"memory_limit": args.memory_limit} if args.memory_limit else {}
    generate.write_config(root, "duckdb", engine)
    clock = float(stamp.read_text())
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    with Sink() as sink:
        env = child_env(sink.url)
        env["META_ACCESS_TOKEN"] = TOKEN
        if args.kind == "rerun":  # a ledger to re-run against, with the new code
            measure(REPO, root, "e2e", env, clock)
        for n in range(args.rounds):
            for label, code in (("old", args.old), ("new", REPO)):
                sink.reset(0)
                r = measure(code.resolve(), root, args.kind, env, clock)
                runs[label].append(r)
                print(f"{n + 1} {label}: {r['seconds']:.2f} s wall, {r['cpu_seconds']:.2f} s "
                      f"CPU, {r['peak_rss_mb']:.0f} MB, {r['counts']['events']:,} events, "
                      f"{r['counts']['delivered']:,} sent, stages "
                      f"{ {k: round(v, 2) for k, v in r['timings'].items()} }", flush=True)
    for label, rs in runs.items():
        print(f"{label}: median {statistics.median(r['seconds'] for r in rs):.2f} s wall, "
              f"{statistics.median(r['cpu_seconds'] for r in rs):.2f} s CPU, "
              f"peak {max(r['peak_rss_mb'] for r in rs):.0f} MB")


if __name__ == "__main__":
    main()
