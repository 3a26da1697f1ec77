"""ruff and mypy are part of the test suite: the code base stays lint-clean, and the core
(connector/) and the built-in plugins (plugins/) type-check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_on_the_core_and_the_built_in_plugins():
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
