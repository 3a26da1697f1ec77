"""``bench/run.py``'s limit reference: measured beside each dry run, and reported as not
compared, with its error, when it cannot run at the job's memory limit (at 10M line
items and 512MB it runs out of memory where offramp's run completes)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

import pytest

from bench import run
from bench.generate import generate


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("limit")
    generate(root, 3_000, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    return root


def _args(memory_limit: str | None) -> argparse.Namespace:
    return argparse.Namespace(memory_limit=memory_limit, threads=None)


def test_the_limit_reference_counts_every_order(warehouse: Path, tmp_path: Path) -> None:
    r = run.limit_reference(_args(None), warehouse, tmp_path, dict(os.environ))
    assert r["events"] == 1_000 and r["seconds"] > 0 and r["peak_rss_mb"] > 0


def test_a_limit_reference_out_of_memory_is_reported_not_fatal(
        warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = run.limit_reference(_args("1MB"), warehouse, tmp_path, dict(os.environ))
    assert set(r) == {"error"} and "Out of Memory" in r["error"]
    assert "limit reference: failed, not compared" in capsys.readouterr().out
    dry = {"events_per_s": 100, "cpu_seconds": 2.0}
    assert run.limit_ratios(dry, None) == {}
    assert run.limit_ratios(dry, {"events_per_s": 400, "cpu_seconds": 1.0}) == {
        "dry_run_vs_limit_reference_events_per_s": 0.25,
        "dry_run_vs_limit_reference_cpu_seconds": 0.5}
