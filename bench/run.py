"""offramp's benchmark: ``python bench/run.py --rows 1000000 [--destination google]``.

1. Generates N order line items with real-world mess (``bench/generate.py``) as a
   DuckDB table and as Parquet, in a temporary project with a Meta job.
2. Measures, each a median of ``--repeat`` runs in a fresh child process (fresh
   state, so everything is sent; peak RSS read from the child's VmHWM):
   a dry run (shape, diff, cut and encode every request, send nothing); the run
   end to end into a loopback sink that answers like Meta (``bench/sink.py``); an
   incremental re-run with nothing changed (must send nothing); and the naive
   row-by-row Python baseline (``bench/naive.py``), on at most ``--naive-rows``; and,
   after each dry run, the limit reference (``bench/limit.py``: the least DuckDB work
   that makes the same orders' events), the dry run reported as a fraction of it.
3. Checks that offramp and the naive baseline make the same events
   (``bench/verify.py``), prints the results and writes them as JSON.

With ``--destination google``, step 2 measures the google job (``queries/bench_google.sql``:
the same rows, Google's columns) beside the Meta job instead (see :func:`measure_google`).

See ``docs/benchmarks.md`` for results and how to read them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import generate, verify  # noqa: E402
from bench.sink import Sink  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
MB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, required=True, help="order line items to generate")
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    p.add_argument("--out", type=Path, help="result JSON (default bench/results/<rows>.json)")
    p.add_argument("--parquet", action="store_true",
                   help="read the Parquet copy of the warehouse instead of the DuckDB file")
    p.add_argument("--naive-rows", type=int,
                   help="line items for the naive baseline (default min(rows, 1,000,000))")
    p.add_argument("--naive-repeat", type=int, help="naive runs (default --repeat)")
    p.add_argument("--memory-limit", help="DuckDB memory_limit for the job ([engine] setting)")
    p.add_argument("--threads", type=int, help="DuckDB threads for the job ([engine] setting)")
    p.add_argument("--workdir", type=Path, help="where to generate (default: a temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the generated project")
    p.add_argument("--destination", choices=("meta", "google"), default="meta",
                   help="google: measure the google job (dry run, end to end, incremental) "
                        "beside the Meta job's dry run and end to end, on the same rows, "
                        "in the same run (no naive baseline)")
    return p.parse_args(argv)


# -- child processes -------------------------------------------------------------------
class ChildFailed(SystemExit):
    """A measuring child process exited with an error (the message holds its stderr)."""


def child(module: str, config: dict[str, Any], env: dict[str, str], tmp: Path) -> dict[str, Any]:
    path = tmp / f"{module.rsplit('.', 1)[-1]}-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(config))
    proc = subprocess.run([sys.executable, "-m", module, str(path)], env=env, cwd=REPO,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise ChildFailed(f"{module} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_env(sink_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["META_BASE_URL"] = sink_url
    env["META_ACCESS_TOKEN"] = TOKEN
    # The google job's OAuth client: the sink answers its token endpoint too.
    env.update({"GOOGLE_ADS_CLIENT_ID": "bench-client", "GOOGLE_ADS_CLIENT_SECRET": "bench-secret",
                "GOOGLE_ADS_REFRESH_TOKEN": "bench-refresh-token"})
    return env


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    import duckdb
    import pyarrow

    info["duckdb"] = duckdb.__version__
    info["pyarrow"] = pyarrow.__version__
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                        capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return info


# -- summaries ---------------------------------------------------------------------------
def summarize(runs: list[dict[str, Any]], line_items: int) -> dict[str, Any]:
    """Medians over runs (peak RSS: the largest)."""
    seconds = statistics.median(r["seconds"] for r in runs)
    counts = runs[0]["counts"]
    wire = statistics.median(r.get("wire_bytes", r["counts"]["bytes"]) for r in runs)
    timings: dict[str, float] = {}
    for key in runs[0].get("timings", {}):
        timings[key] = round(statistics.median(r["timings"].get(key, 0.0) for r in runs), 3)
    return {
        "runs": len(runs),
        "seconds": round(seconds, 3),
        "seconds_all": [round(r["seconds"], 3) for r in runs],
        "cpu_seconds": round(statistics.median(r.get("cpu_seconds", 0.0) for r in runs), 2),
        "line_items": line_items,
        "events": counts["events"],
        "sent": counts.get("delivered", 0),
        "line_items_per_s": round(line_items / seconds),
        "events_per_s": round(counts["events"] / seconds),
        "sent_per_s": round(counts.get("delivered", 0) / seconds),
        "wire_mb_per_s": round(wire / MB / seconds, 1),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
        "timings": timings,
    }


def print_table(results: dict[str, Any]) -> None:
    head = (f"{'measurement':<26}{'seconds':>9}{'items/s':>11}{'events/s':>10}{'sent/s':>10}"
            f"{'MB/s':>7}{'RSS MB':>8}")
    print(head)
    print("-" * len(head))
    for name, s in results["measurements"].items():
        print(f"{name:<26}{s['seconds']:>9.2f}{s['line_items_per_s']:>11,}"
              f"{s['events_per_s']:>10,}{s['sent_per_s']:>10,}{s['wire_mb_per_s']:>7.1f}"
              f"{s['peak_rss_mb']:>8,}")
    for key, value in results["ratios"].items():
        print(f"{key}: {value}")
    for name, t in results["measurements"].items():
        if t["timings"]:
            stages = ", ".join(f"{k} {v:.2f}" for k, v in t["timings"].items())
            print(f"{name} stages (s): {stages}")


def targets(results: dict[str, Any]) -> dict[str, Any]:
    m = results["measurements"]
    out: dict[str, Any] = {}
    if "dry_run" in m:
        out["dry_run_events_per_s>=150000"] = m["dry_run"]["events_per_s"] >= 150_000
    if "end_to_end" in m:
        out["end_to_end_events_per_s>=100000"] = m["end_to_end"]["events_per_s"] >= 100_000
        out["peak_rss_mb<1024"] = max(s["peak_rss_mb"] for k, s in m.items()
                                      if k not in ("naive", "limit_reference")) < 1024
    if "incremental" in m:
        inc = m["incremental"]
        out["incremental_seconds<20_and_sent_0"] = inc["seconds"] < 20 and inc["sent"] == 0 \
            and results["incremental_wire_events"] == 0
    if "speedup_line_items_per_s" in results["ratios"]:
        out["speedup>=10"] = results["ratios"]["speedup_line_items_per_s"] >= 10
    if "end_to_end_vs_dry_run_events_per_s" in results["ratios"]:
        out["end_to_end>=80%_of_dry_run"] = \
            results["ratios"]["end_to_end_vs_dry_run_events_per_s"] >= 0.8
    if "dry_run_vs_limit_reference_events_per_s" in results["ratios"]:
        out["dry_run>=75%_of_limit_reference"] = \
            results["ratios"]["dry_run_vs_limit_reference_events_per_s"] >= 0.75
    if "google_end_to_end" in m:
        for kind in ("dry_run", "end_to_end"):
            out[f"google_{kind}_events_per_s>=meta"] = (
                m[f"google_{kind}"]["events_per_s"] >= m[f"meta_{kind}"]["events_per_s"])
        inc = m["google_incremental"]
        out["google_incremental_sent_0"] = inc["sent"] == 0 and \
            results["incremental_wire_events"] == 0
    return out


# -- the benchmark -------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    naive_rows = min(args.rows, args.naive_rows or 1_000_000)
    naive_repeat = args.naive_repeat or args.repeat
    out = args.out or REPO / "bench" / "results" / f"{args.rows}.json"
    work = args.workdir or Path(tempfile.mkdtemp(prefix="offramp-bench-"))
    root = work / "project"
    tmp = work / "configs"
    tmp.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    results: dict[str, Any] = {"args": {k: str(v) if isinstance(v, Path) else v
                                        for k, v in vars(args).items()},
                               "machine": machine(), "now": now.isoformat(),
                               "load_before": os.getloadavg()}
    try:
        print(f"generating {args.rows:,} line items in {root} ...", flush=True)
        results["generate_seconds"] = generate.generate(root, args.rows, now)
        results["data"] = generate.counts(root)
        engine = {}
        if args.memory_limit:
            engine["memory_limit"] = args.memory_limit
        if args.threads:
            engine["threads"] = str(args.threads)
        generate.write_config(root, "parquet" if args.parquet else "duckdb", engine)
        print(f"  {results['data']} in "
              f"{sum(results['generate_seconds'].values()):.1f}s", flush=True)
        if args.destination == "google":
            measure_google(args, root, tmp, now, results)
        else:
            measure(args, root, tmp, now, naive_rows, naive_repeat, results)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    results["targets"] = targets(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print()
    print_table(results)
    print("targets:", json.dumps(results["targets"]))
    print("equality:", json.dumps({k: v["ok"] for k, v in
                                   results.get("verification", {}).items()}))
    print(f"written to {out}")
    return results


def limit_reference(args: argparse.Namespace, root: Path, tmp: Path,
                    env: dict[str, str]) -> dict[str, Any]:
    """One run of the limit reference (``bench/limit.py``) over the job's warehouse, with
    its memory limit and threads, in a child process; counted like an offramp run. If it
    fails (it cannot spill all its state: at 10M and 512MB it runs out of memory where
    offramp's run completes), the result says why, and no ratio to it is reported."""
    engine = {"memory_limit": args.memory_limit, "threads": args.threads}
    try:
        r = child("bench.limit", {"warehouse": str(root / "warehouse.duckdb"),
                                  "engine": engine}, env, tmp)
    except ChildFailed as exc:
        lines = str(exc).splitlines()
        error = next((line for line in reversed(lines) if "Error" in line), lines[-1])
        print(f"  limit reference: failed, not compared: {error}", flush=True)
        return {"error": error}
    r["counts"] = {"events": r["events"], "delivered": 0, "bytes": 0}
    r["timings"] = {}
    print(f"  limit reference: {r['seconds']:.2f}s, {r['events']:,} events, "
          f"RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    return r


def measure(args: argparse.Namespace, root: Path, tmp: Path, now: dt.datetime,
            naive_rows: int, naive_repeat: int, results: dict[str, Any]) -> None:
    state = root / ".offramp" / "state"
    lines = results["data"]["line_items"]
    base = {"root": str(root), "now": now.timestamp()}
    with Sink() as sink:
        env = child_env(sink.url)

        def offramp(label: str, dry_run: bool, fresh: bool, keep_every: int = 0):
            if fresh:
                shutil.rmtree(state, ignore_errors=True)
            sink.reset(keep_every)
            r = child("bench.measure", {**base, "dry_run": dry_run}, env, tmp)
            if r["status"] not in ("succeeded", "dry_run"):
                raise SystemExit(f"{label} run failed: {r['error']}")
            r["wire"] = sink.totals()
            if not dry_run:
                r["wire_bytes"] = r["wire"]["bytes"]
                if r["wire"]["events"] != r["counts"]["delivered"]:
                    raise SystemExit(f"{label}: the sink counted {r['wire']['events']} events, "
                                     f"offramp recorded {r['counts']['delivered']} delivered")
            print(f"  {label}: {r['seconds']:.2f}s, {r['counts']['events']:,} events, "
                  f"{r['counts']['delivered']:,} sent, RSS {r['peak_rss_mb']:.0f} MB, "
                  f"stages {({k: round(v, 2) for k, v in r['timings'].items()})}", flush=True)
            return r

        measurements: dict[str, Any] = {}
        print("dry runs, each followed by the limit reference", flush=True)
        dry, limit = [], []
        for _ in range(args.repeat):  # alternating: both see the same load
            dry.append(offramp("dry run", True, True))
            limit.append(limit_reference(args, root, tmp, env))
        measurements["dry_run"] = summarize(dry, lines)
        if all("error" not in r for r in limit):
            measurements["limit_reference"] = summarize(limit, lines)
        else:
            results["limit_reference_error"] = next(r["error"] for r in limit if "error" in r)
        keep_every = max(1, dry[0]["counts"]["requests"] // 30)
        print("end-to-end runs", flush=True)
        e2e = [offramp("end to end", False, True, keep_every if i == args.repeat - 1 else 0)
               for i in range(args.repeat)]
        kept = list(sink.kept)
        measurements["end_to_end"] = summarize(e2e, lines)
        print("incremental re-runs (nothing changed)", flush=True)
        inc = [offramp("incremental", False, False) for _ in range(args.repeat)]
        measurements["incremental"] = summarize(inc, lines)
        results["incremental_wire_events"] = max(r["wire"]["events"] for r in inc)

        print(f"naive baseline on {naive_rows:,} line items", flush=True)
        bound = verify.order_bound(naive_rows, lines)
        sample = verify.pick_sample(root, bound)
        naive_runs = []
        for _ in range(naive_repeat):
            sink.reset(0)
            r = child("bench.naive", {**base, "url": sink.url, "token": TOKEN,
                                      "order_bound": bound, "sample": sample,
                                      "kept_path": str(tmp / "naive-kept.json")}, env, tmp)
            r["wire_bytes"] = sink.totals()["bytes"]
            if sink.totals()["events"] != r["counts"]["delivered"]:
                raise SystemExit("naive: the sink's count differs from the naive count")
            print(f"  naive: {r['seconds']:.2f}s, {r['counts']['events']:,} events, "
                  f"{r['counts']['delivered']:,} sent, RSS {r['peak_rss_mb']:.0f} MB", flush=True)
            naive_runs.append(r)
        measurements["naive"] = summarize(naive_runs, naive_runs[0]["counts"]["rows_read"])
        measurements["naive"]["read_seconds"] = round(
            statistics.median(r["read_seconds"] for r in naive_runs), 2)
        results["measurements"] = measurements

    naive_kept = json.loads((tmp / "naive-kept.json").read_text())
    print(f"checking equality: {len(sample):,} sampled orders, {len(kept)} kept bodies",
          flush=True)
    shaped = verify.shaped_events(root, now, sample)
    sample_keys = {k for k in shaped if k.split("/", 1)[0] in set(sample)}
    results["verification"] = {
        "shaped_vs_naive": verify.compare({k: shaped[k] for k in sample_keys}, naive_kept)}
    wire = verify.wire_events(kept)
    wire_shaped = verify.shaped_events(root, now, sorted(wire))
    results["verification"]["wire"] = verify.compare_wire(wire, wire_shaped, naive_kept)
    if naive_rows == lines:
        full = measurements["dry_run"]
        naive = measurements["naive"]
        ours, theirs = dry[0]["counts"], naive_runs[0]["counts"]
        same = (ours["events"], ours["line_items"]) == (theirs["events"], theirs["line_items"])
        same = same and full["sent"] == 0 and e2e[0]["counts"]["delivered"] == naive["sent"]
        results["verification"]["counts"] = {
            "ok": same, "offramp_events": ours["events"], "naive_events": theirs["events"],
            "offramp_line_items": ours["line_items"], "naive_line_items": theirs["line_items"],
            "offramp_sent": e2e[0]["counts"]["delivered"], "naive_sent": naive["sent"]}
    naive = measurements["naive"]
    ete = measurements["end_to_end"]
    dry = measurements["dry_run"]
    results["ratios"] = {
        "speedup_line_items_per_s": round(ete["line_items_per_s"] / naive["line_items_per_s"], 1),
        "speedup_events_per_s": round(ete["events_per_s"] / naive["events_per_s"], 1),
        "end_to_end_vs_dry_run_events_per_s": round(ete["events_per_s"] / dry["events_per_s"], 2),
        **limit_ratios(dry, measurements.get("limit_reference")),
        "naive_scope": f"naive measured on {naive['line_items']:,} of {lines:,} line items",
    }
    for name, check in results["verification"].items():
        if not check["ok"]:
            print(f"EQUALITY CHECK FAILED ({name}): {check}", file=sys.stderr)


def limit_ratios(dry: dict[str, Any], limit: dict[str, Any] | None) -> dict[str, Any]:
    """The dry run as a fraction of the limit reference (none when the reference failed)."""
    if limit is None:
        return {}
    return {"dry_run_vs_limit_reference_events_per_s": round(
                dry["events_per_s"] / limit["events_per_s"], 2),
            "dry_run_vs_limit_reference_cpu_seconds": round(
                limit["cpu_seconds"] / dry["cpu_seconds"], 2)}


def measure_google(args: argparse.Namespace, root: Path, tmp: Path, now: dt.datetime,
                   results: dict[str, Any]) -> None:
    """The google job's dry run, end to end and incremental re-run, with the Meta job's
    dry run and end to end on the same rows, interleaved (so that both see the same
    machine). The sink counts each job's events on the wire against the run's count."""
    state = root / ".offramp" / "state"
    lines = results["data"]["line_items"]
    base = {"root": str(root), "now": now.timestamp()}
    runs: dict[str, list[dict[str, Any]]] = {}
    with Sink() as sink:
        env = child_env(sink.url)

        def offramp(label: str, job: str, dry_run: bool, fresh: bool) -> None:
            if fresh:
                shutil.rmtree(state, ignore_errors=True)
            sink.reset(0)
            r = child("bench.measure", {**base, "job": job, "dry_run": dry_run}, env, tmp)
            if r["status"] not in ("succeeded", "dry_run"):
                raise SystemExit(f"{label} run failed: {r['error']}")
            r["wire"] = sink.totals()
            if not dry_run:
                r["wire_bytes"] = r["wire"]["bytes"]
                if r["wire"]["events"] != r["counts"]["delivered"]:
                    raise SystemExit(f"{label}: the sink counted {r['wire']['events']} events, "
                                     f"offramp recorded {r['counts']['delivered']} delivered")
            print(f"  {label}: {r['seconds']:.2f}s, {r['counts']['events']:,} events, "
                  f"{r['counts']['delivered']:,} sent, {r['counts']['requests']:,} requests, "
                  f"RSS {r['peak_rss_mb']:.0f} MB", flush=True)
            runs.setdefault(label, []).append(r)

        for kind, dry in (("dry_run", True), ("end_to_end", False)):
            print(kind.replace("_", " "), flush=True)
            for _ in range(args.repeat):
                offramp(f"meta_{kind}", "bench", dry, True)
                offramp(f"google_{kind}", "bench_google", dry, True)
        print("google incremental re-runs (nothing changed)", flush=True)
        for _ in range(args.repeat):
            offramp("google_incremental", "bench_google", False, False)
        results["incremental_wire_events"] = max(r["wire"]["events"]
                                                 for r in runs["google_incremental"])
    results["measurements"] = {label: summarize(r, lines) for label, r in runs.items()}
    m = results["measurements"]
    results["ratios"] = {
        f"google_vs_meta_{kind}_events_per_s": round(
            m[f"google_{kind}"]["events_per_s"] / m[f"meta_{kind}"]["events_per_s"], 2)
        for kind in ("dry_run", "end_to_end")}


if __name__ == "__main__":
    main()
