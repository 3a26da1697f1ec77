"""``offramp run --engine spark`` in a process of its own: offramp's stage lines, without
the transpile step's mappings or Spark's own log noise, unless ``--verbose``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.spark.spark_support import ENV, JOB, make_project


@pytest.mark.slow
def test_a_spark_run_prints_offramp_lines_not_spark_noise(warehouse, tmp_path) -> None:
    root = make_project(tmp_path / "p", warehouse, "http://127.0.0.1:9")
    env = {**os.environ, **ENV, "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run([sys.executable, "-m", "connector", "--project", str(root), "run",
                           JOB, "--engine", "spark", "--master", "local[1]", "--dry-run"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert not [line for line in lines if line.startswith("transpile (")]
    assert not [line for line in lines if " WARN " in line or "log4j" in line
                or "Setting default log level" in line]
    assert any(line.startswith("spark: transpiled") for line in lines)
    assert "dry_run" in done.stdout
