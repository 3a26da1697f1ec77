"""The google job on DuckDB and on Spark local[2]: the same events reach the Data Manager
emulator, in requests to the same destination, with the same rejects. The Spark session is
the shared one (conftest), whose executors get the google plugin and its OAuth client from
``spark_support.ENV``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from connector.engines.spark import run as spark_run
from connector.project import Project
from connector.run import pipeline
from plugins.google.demo import job_text
from plugins.google.emulator import GoogleEmulator
from tests.spark.spark_support import ENV, rejects

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

JOB = "google_offline_conversions"
NOW = dt.datetime.now(dt.UTC)


def make_project(root: Path, warehouse: Path, emulator: GoogleEmulator) -> Project:
    (root / "queries").mkdir(parents=True, exist_ok=True)
    (root / "offramp.toml").write_text(f'[warehouse]\nparquet = "{warehouse}"\n')
    text = (job_text()
            .replace("${GOOGLE_DATAMANAGER_URL:-https://datamanager.googleapis.com}",
                     emulator.url)
            .replace("${GOOGLE_TOKEN_URI:-https://oauth2.googleapis.com/token}",
                     emulator.token_uri())
            .replace('default_country = "US"',
                     'default_country = "US"\nrequests_per_minute = 60000\n'
                     "status_wait_seconds = 0"))
    (root / "queries" / f"{JOB}.sql").write_text(text)
    return Project(root)


def sent(emulator: GoogleEmulator) -> dict[str, str]:
    return {e["transactionId"]: json.dumps(e, sort_keys=True) for e in emulator.events()}


def test_the_google_job_makes_the_same_requests_on_spark(spark, warehouse, tmp_path):
    with GoogleEmulator() as on_duckdb, GoogleEmulator() as on_spark, \
            pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        duck = make_project(tmp_path / "duck", warehouse, on_duckdb)
        spk = make_project(tmp_path / "spark", warehouse, on_spark)
        a = pipeline.run(duck, JOB, now=NOW)
        b = spark_run.run(spk, JOB, spark=spark, now=NOW, report=lambda line: None)
        assert a.status == b.status == "succeeded", (a.error, b.error)
        assert a.counts.delivered > 100
        for field in ("rows_read", "events", "delivered", "rejected", "reasons",
                      "line_items", "line_item_reasons"):
            assert getattr(b.counts, field) == getattr(a.counts, field), field
        events_duck, events_spark = sent(on_duckdb), sent(on_spark)
        assert events_spark.keys() == events_duck.keys()
        assert [k for k in events_duck if events_duck[k] != events_spark[k]] == []
        requests = [on_duckdb.records(), on_spark.records()]
        assert {(r.account_id, r.product_destination_id) for r in requests[0]} == \
            {(r.account_id, r.product_destination_id) for r in requests[1]}
        assert on_spark.counts["requests_rejected"] == 0
    assert rejects(duck.state_path(JOB), a.run_id) == rejects(spk.state_path(JOB), b.run_id)
