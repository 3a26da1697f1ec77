"""``offramp demo --destination google``: the same demo warehouse, the Google job and the
Data Manager emulator; and the saved example job in ``queries/``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from connector.cli import app as offramp_cli
from connector.kit.commands import demos
from plugins.google.demo import JOB, job_text

REPO = Path(__file__).resolve().parents[2]
ENV = ("GOOGLE_DATAMANAGER_URL", "GOOGLE_TOKEN_URI", "GOOGLE_ADS_REFRESH_TOKEN")


def invoke(*args: str):
    from click.testing import CliRunner

    offramp_cli.register_plugin_commands()
    return CliRunner(env={"COLUMNS": "250"}).invoke(offramp_cli.cli, list(args),
                                                     catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("gdemo")
    before = {k: os.environ.get(k) for k in ENV}
    result = invoke("demo", str(root), "--orders", "300", "--destination", "google")
    return root, result, before, {k: os.environ.get(k) for k in ENV}


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.slow
def test_the_google_demo_sends_to_the_emulator_and_reports_the_requests(demo) -> None:
    root, result, before, after = demo
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    delivered = int(re.search(r"delivered ([\d,]+)", output)[1].replace(",", ""))
    accepted = int(re.search(r"emulator: accepted ([\d,]+) events", output)[1]
                   .replace(",", ""))
    assert delivered == accepted > 0
    assert re.search(r"\d+ no usable identifier", output)
    assert re.search(r"google: 1 requests \([\d,]+ events\): 1 SUCCESS", output)
    assert re.search(r"run again: [\d,]+ events unchanged, 0 sent \(the ledger remembers "
                     r"what Google has\)", output)
    assert (root / "queries" / f"{JOB}.sql").read_text(encoding="utf-8") == job_text()
    assert before == after


@pytest.mark.slow
def test_the_saved_example_job_is_the_demos_and_validates(demo) -> None:
    root, _, _, _ = demo
    assert (REPO / "queries" / f"{JOB}.sql").read_text(encoding="utf-8") == job_text()
    result = invoke("--project", str(root), "validate", JOB)
    assert result.exit_code == 0, result.output
    assert "valid:" in result.output and "google" in result.output


def test_the_demos_are_registered_and_an_unknown_one_refused(tmp_path) -> None:
    assert {"meta", "google"} <= set(demos())
    result = invoke("demo", str(tmp_path / "d"), "--destination", "tiktok")
    assert result.exit_code == 2 and "no demo for 'tiktok'" in result.output
