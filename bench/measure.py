"""One measured offramp run, in its own process so that its peak memory is its own.

``bench/run.py`` starts it as ``python -m bench.measure CONFIG.json`` and reads one
JSON line from its stdout: wall and CPU seconds, the run's counts and per-stage
timings (what ``offramp run --profile`` prints), and the peak RSS (VmHWM).
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench.naive import peak_rss_mb
from connector.project import Project
from connector.run import pipeline


def run(config: dict[str, Any]) -> dict[str, Any]:
    project = Project(Path(config["root"]))
    now = dt.datetime.fromtimestamp(config["now"], dt.UTC)
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    summary = pipeline.run(project, config.get("job", "bench"), dry_run=config["dry_run"],
                           now=now)
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "status": summary.status,
        "error": summary.error,
        "seconds": seconds,
        "cpu_seconds": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "counts": summary.counts.as_dict(),
        "timings": summary.timings,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(run(config)))


if __name__ == "__main__":
    main()
