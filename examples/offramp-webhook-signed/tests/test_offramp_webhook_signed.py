"""offramp's conformance suite and the webhook's own rules, against its emulator."""

import datetime as dt

import offramp_webhook_signed as plugin
import pytest

from connector import open_project
from connector.testing import check_destination

SECRET = "s1gning-secret-for-tests"


@pytest.fixture
def emulator():
    with plugin.WebhookSignedEmulator(secret=SECRET) as emu:
        yield emu


def rows(n, email=True):
    return [{"id": i, "email": f"user{i}@example.com" if email else None,
             "at": dt.datetime(2026, 1, 1)} for i in range(n)]


def test_conformance(tmp_path, offramp_plugin, emulator):
    offramp_plugin(plugin)
    report = check_destination(
        plugin.WebhookSignedDestination,
        settings={"url": f"{emulator.url}/hook", "secret_env": "WEBHOOK_SIGNING_SECRET"},
        env={"WEBHOOK_SIGNING_SECRET": SECRET},
        rows=rows(3), bad_rows=[{"id": None, "email": "x@example.com", "at": None}],
        emulator=emulator, workdir=tmp_path)
    assert {"retried", "secrets never shown", "no raw PII sent"} <= set(report)


def test_partial_rejections_and_signature(offramp_plugin, offramp_project, emulator,
                                          monkeypatch):
    offramp_plugin(plugin)
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", SECRET)
    settings = {"url": f"{emulator.url}/hook"}
    project = offramp_project(
        tables={"people": rows(4) + [{"id": 9, "email": None, "at": dt.datetime(2026, 1, 1)}]},
        jobs={"hook": ("webhook_signed", settings, "SELECT * FROM people")})
    summary = open_project(project.root).run("hook")
    assert (summary.counts.delivered, summary.counts.rejected) == (4, 1)
    assert summary.counts.reasons == {"email is missing": 1}
    assert len(emulator.events) == 4
    monkeypatch.setenv("WEBHOOK_SIGNING_SECRET", "a-wrong-secret")
    other = offramp_project(tables={"people": rows(2)},
                            jobs={"hook": ("webhook_signed", settings, "SELECT * FROM people")})
    refused = open_project(other.root).run("hook")
    assert refused.status == "failed" and "WEBHOOK_SIGNING_SECRET" in refused.error
    assert "a-wrong-secret" not in refused.error
