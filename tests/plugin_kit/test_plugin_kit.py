"""The third-party path, for real: pip-install the example plugins into a fresh
environment, discover them through their entry points, run a saved job and their own
tests; scaffold a new plugin and follow the steps it prints, in a fresh environment.

The environments are layered on the running one (tests/plugin_kit/venvs.py): they see
offramp and the test tools as installed here, and pip works offline in them."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from connector.testing import make_project, write_job
from tests.plugin_kit.venvs import activated, interpreter_sees, layered, pip_install

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> Path:
    """A fresh virtual environment that sees offramp and has both example plugins
    pip-installed."""
    root = layered(tmp_path_factory.mktemp("plugin-env") / "venv")
    for example in ("offramp-webhook-signed", "offramp-broken"):
        # Built from a copy: setuptools writes into the source folder, and two test
        # workers building the same folder at once break each other's build.
        source = shutil.copytree(EXAMPLES / example, root.parent / f"src-{example}",
                                 ignore=shutil.ignore_patterns("build", "*.egg-info"))
        pip_install(root, "--no-deps", str(source))
    return root


def offramp(env_root: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(env_root / "bin" / "offramp"), *args], cwd=cwd, text=True,
                          capture_output=True, env=activated(env_root, **env), timeout=60)


def test_the_environment_is_fresh_and_sees_offramp(plugin_env):
    import connector

    assert interpreter_sees(plugin_env, "connector") == connector.__file__
    installed = interpreter_sees(plugin_env, "offramp_webhook_signed")
    assert installed.startswith(str(plugin_env)), installed  # installed there, not here


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
    server = subprocess.Popen([str(plugin_env / "bin" / "offramp"), "emulate", "webhook_signed"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=activated(plugin_env), cwd=tmp_path)
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


def test_an_installed_example_passes_its_own_tests(plugin_env):
    source = plugin_env.parent / "src-offramp-webhook-signed"
    tests = subprocess.run([str(plugin_env / "bin" / "pytest"), "-q", "-p", "no:cacheprovider",
                            "tests"], cwd=source, capture_output=True, text=True,
                           env=activated(plugin_env), timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


def test_new_plugin_then_exactly_the_steps_it_prints_pass_in_a_fresh_environment(tmp_path):
    """``offramp new-plugin``, then its printed next step, typed into a shell with a fresh
    virtual environment activated. pip is made offline through the environment
    (PIP_NO_INDEX, and no isolated build environment, which would download setuptools:
    venvs.OFFLINE_PIP), not by changing the steps: a user types them as printed."""
    env = layered(tmp_path / "venv")
    where = tmp_path / "my plugins"  # a space: the printed step must quote the folder
    made = subprocess.run([str(env / "bin" / "offramp"), "new-plugin", "acme_hook", "--dir",
                           str(where)], capture_output=True, text=True, cwd=tmp_path,
                          env=activated(env, COLUMNS="40"), timeout=60)
    assert made.returncode == 0, made.stderr
    root = where / "offramp-acme-hook"
    assert made.stdout.splitlines()[0] == f"created {root}"
    (step,) = [line.removeprefix("next: ") for line in made.stdout.splitlines()
               if line.startswith("next: ")]
    assert step == f"cd {shlex.quote(str(root))} && pip install -e '.[test]' && pytest"
    done = subprocess.run(["bash", "-c", step], cwd=tmp_path, capture_output=True, text=True,
                          env=activated(env), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Successfully installed offramp-acme-hook" in done.stdout
    assert "2 passed" in done.stdout
    listed = subprocess.run([str(env / "bin" / "offramp"), "destinations"], capture_output=True,
                            text=True, cwd=tmp_path, env=activated(env), timeout=60)
    assert "acme_hook" in listed.stdout, listed.stdout + listed.stderr
    again = subprocess.run([str(env / "bin" / "offramp"), "new-plugin", "acme_hook", "--dir",
                            str(where)], capture_output=True, text=True, env=activated(env))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_write_job_round_trips_through_the_job_parser(tmp_path):
    from connector.project import parse_job

    path = write_job(tmp_path, "j", "meta", {"dataset_id": "123456", "datasets": {"Lead": ["1"]},
                                            "hashing": False, "window_days": 3}, "SELECT 1")
    job = parse_job(path)
    assert job.destination == "meta" and job.sql == "SELECT 1"
    assert job.settings == {"dataset_id": "123456", "datasets": {"Lead": ["1"]},
                            "hashing": False, "window_days": 3}


def test_a_failing_pip_fails_the_test_with_its_whole_output(tmp_path):
    env = layered(tmp_path / "venv")
    broken = tmp_path / "broken-package"
    broken.mkdir()
    (broken / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools>=69"]\n'
                                           'build-backend = "setuptools.build_meta"\n\n'
                                           '[project]\nname = "broken-package"\nversion = "x.y"\n')
    with pytest.raises(pytest.fail.Exception) as failed:
        pip_install(env, "--no-deps", str(broken))
    message = str(failed.value)
    assert message.startswith(f"pip install --no-deps {broken} failed")
    assert "x.y" in message and "version" in message  # setuptools' own words, from the build
