"""The third-party path, for real: pip-install the example plugins into an environment,
discover them through their entry points, run a saved job; scaffold a new plugin and
run its tests; run the conformance suite on the built-in destinations."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest
import requests

from connector.testing import make_project, write_job

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OFFRAMP_")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> Path:
    """A virtual environment that sees offramp and has both example plugins pip-installed."""
    root = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(root)
    python = root / "bin" / "python"
    for example in ("offramp-webhook-signed", "offramp-broken"):
        # Built from a copy: setuptools writes into the source folder, and two test
        # workers building the same folder at once break each other's build.
        source = shutil.copytree(EXAMPLES / example, root.parent / f"src-{example}",
                                 ignore=shutil.ignore_patterns("build", "*.egg-info"))
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps",
                        "--no-build-isolation", "--disable-pip-version-check",
                        str(source)], check=True, env=_env(), capture_output=True)
    return root


def offramp(env_root: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(env_root / "bin" / "python"), "-m", "connector", *args], cwd=cwd,
                          text=True,
                          capture_output=True, env=_env(**env), timeout=60)


def test_installed_plugins_are_discovered_and_broken_ones_reported(plugin_env, tmp_path):
    listing = offramp(plugin_env, "plugins", "--format", "json", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    plugins = {p["name"]: p for p in json.loads(listing.stdout)}
    assert plugins["webhook_signed"]["package"] == "offramp-webhook-signed"
    assert plugins["webhook_signed"]["hooks"] == ["register_destinations"]
    assert "offramp_this_module_does_not_exist" in plugins["broken"]["error"]
    assert "meta" in plugins  # the built-ins still load beside a broken plugin
    assert "broken" in listing.stderr and "failed to load" in listing.stderr
    destinations = offramp(plugin_env, "destinations", cwd=tmp_path)
    assert destinations.returncode == 0 and "webhook_signed" in destinations.stdout


def test_installed_plugin_runs_a_saved_job_end_to_end(plugin_env, tmp_path):
    server = subprocess.Popen([str(plugin_env / "bin" / "python"), "-m", "connector", "emulate",
                               "webhook_signed"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=_env(), cwd=tmp_path)
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        people = [{"id": i, "email": f"p{i}@example.com"} for i in range(5)]
        make_project(tmp_path, tables={"people": people + [{"id": 7, "email": None}]},
                     jobs={"hook": ("webhook_signed", {"url": f"{url}/hook"},
                                    "SELECT id, email FROM people")})
        secret = {"WEBHOOK_SIGNING_SECRET": "test-signing-secret"}
        assert offramp(plugin_env, "validate", "hook", cwd=tmp_path, **secret).returncode == 0
        run = offramp(plugin_env, "run", "hook", "--quiet", cwd=tmp_path, **secret)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "delivered 5" in run.stdout and "rejected 1" in run.stdout
        state = requests.get(f"{url}/__emulator__/state", timeout=5).json()
        assert state == {"events": 5, "replays": 0}
        again = offramp(plugin_env, "run", "hook", "--quiet", cwd=tmp_path, **secret)
        assert again.returncode == 0 and "delivered 0" in again.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_new_plugin_skeleton_passes_its_own_tests(tmp_path):
    made = subprocess.run([sys.executable, "-m", "connector", "new-plugin", "acme_hook",
                           "--dir", str(tmp_path)], capture_output=True, text=True, env=_env())
    assert made.returncode == 0, made.stderr
    root = tmp_path / "offramp-acme-hook"
    pyproject = (root / "pyproject.toml").read_text()
    assert 'acme_hook = "offramp_acme_hook"' in pyproject and "[project.entry-points.offramp]" \
        in pyproject
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "-p", "no:xdist", "-o", "addopts=", "tests"],
                           cwd=root, capture_output=True, text=True,
                           env=_env(PYTHONPATH=str(root), OFFRAMP_LOAD_PLUGINS="jsonl"))
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
    again = subprocess.run([sys.executable, "-m", "connector", "new-plugin", "acme_hook",
                            "--dir", str(tmp_path)], capture_output=True, text=True, env=_env())
    assert again.returncode == 1 and "already exists" in again.stderr


def test_write_job_round_trips_through_the_job_parser(tmp_path):
    from connector.project import parse_job

    path = write_job(tmp_path, "j", "meta", {"dataset_id": "123456", "datasets": {"Lead": ["1"]},
                                            "hashing": False, "window_days": 3}, "SELECT 1")
    job = parse_job(path)
    assert job.destination == "meta" and job.sql == "SELECT 1"
    assert job.settings == {"dataset_id": "123456", "datasets": {"Lead": ["1"]},
                            "hashing": False, "window_days": 3}
