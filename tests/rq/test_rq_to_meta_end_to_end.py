"""The whole RQ path through the CLI: `offramp pull rq` from the RQ emulator into a
warehouse, then the saved job queries/rq_marketing_to_meta.sql to the Meta emulator."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from connector.cli.app import cli
from plugins.meta.emulator import MetaEmulator
from plugins.rq.emulator import DEMO_BEARER, RqEmulator

REPO = Path(__file__).resolve().parents[2]


def test_pull_then_send_to_meta(tmp_path, monkeypatch):
    today = dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=3)
    (tmp_path / "queries").mkdir()
    shutil.copy(REPO / "queries" / "rq_marketing_to_meta.sql", tmp_path / "queries")
    runner = CliRunner()
    with RqEmulator() as rq, MetaEmulator(tokens={"meta-token-for-tests"}) as meta:
        (tmp_path / "offramp.toml").write_text(
            f'[sources.rq]\nbase_url = "{rq.url}"\n')
        job = tmp_path / "queries" / "rq_marketing_to_meta.sql"
        job.write_text(job.read_text().replace(
            'access_token_env = "META_ACCESS_TOKEN"',
            f'access_token_env = "META_ACCESS_TOKEN"\nbase_url = "{meta.url}"'))
        monkeypatch.setenv("RQ_TOKEN", DEMO_BEARER)
        monkeypatch.setenv("META_ACCESS_TOKEN", "meta-token-for-tests")
        pulled = runner.invoke(cli, ["--project", str(tmp_path), "pull", "rq", "--from",
                                     start.isoformat(), "--to", (today - dt.timedelta(days=1))
                                     .isoformat()])
        assert pulled.exit_code == 0, pulled.output
        # three companies from the partner relationships, three days each
        assert "9 windows replaced" in pulled.output, pulled.output
        written = pulled.output.split("rq_marketing_report: ")[1].split(" rows")[0]
        again = runner.invoke(cli, ["--project", str(tmp_path), "pull", "rq", "--from",
                                    start.isoformat(), "--to", (today - dt.timedelta(days=1))
                                    .isoformat()])
        assert again.exit_code == 0, again.output
        assert f"rq_marketing_report: {written} rows written" in again.output  # replaced
        valid = runner.invoke(cli, ["--project", str(tmp_path), "validate",
                                    "rq_marketing_to_meta"])
        assert valid.exit_code == 0, valid.output
        run = runner.invoke(cli, ["--project", str(tmp_path), "run", "rq_marketing_to_meta",
                                  "--quiet"])
        assert run.exit_code == 0, run.output
        events = meta.events()
        assert events, run.output
        assert all(e["action_source"] == "physical_store" for e in events)
        assert {e["custom_data"]["currency"] for e in events} <= {"CAD", "USD"}
        from connector.engines.warehouse import Engine, Warehouse

        with Engine(Warehouse("duckdb", tmp_path / "warehouse.duckdb")) as engine:
            assert engine.rows("SELECT count(*) FROM rq_marketing_report")[0][0] == int(written)
        runs = runner.invoke(cli, ["--project", str(tmp_path), "runs", "rq_marketing_to_meta",
                                   "--format", "json"])
        assert json.loads(runs.output)[0]["delivered"] == len(events)

