"""The plugin registers its source through the offramp hook; settings and CLI options."""

from __future__ import annotations

import click
import pluggy
import pytest
import requests
from click.testing import CliRunner

import plugins.rq
from connector import Source, hookspecs
from plugins.rq.emulator import RqEmulator
from plugins.rq.source import RqSettings, RqSource


def test_the_hook_registers_rq_source() -> None:
    pm = pluggy.PluginManager(hookspecs.NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(plugins.rq, name="rq")
    pm.check_pending()
    found: list[type] = []
    pm.hook.register_sources(register=found.append)
    assert found == [RqSource]
    assert issubclass(RqSource, Source) and RqSource.name == "rq"
    assert RqSource.Settings is RqSettings and RqSource.emulator is RqEmulator
    assert RqEmulator.name == "rq"


def test_settings_defaults() -> None:
    s = RqSettings()
    assert (s.base_url, s.auth, s.token_env, s.format, s.gzip, s.table, s.max_in_flight) == (
        "https://rqdataconnect.iqmetrix.net", "bearer", "RQ_TOKEN", "json", True,
        "rq_marketing_report", 8)
    assert s.companies == [] and s.max_attempts == 8 and s.timeout == 120.0
    with pytest.raises(ValueError, match="table"):
        RqSettings(table="drop table x")
    with pytest.raises(ValueError, match="auth"):
        RqSettings(auth="oauth")


def test_cli_options_reach_pull_as_named() -> None:
    seen: dict = {}

    @click.command(params=RqSource.cli_options())
    def pull(**options: object) -> None:
        seen.update(options)

    result = CliRunner().invoke(pull, ["--company", "14682", "--company", "21090",
                                       "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert seen == {"company": (14682, 21090), "format": "csv"}
    result = CliRunner().invoke(pull, ["--format", "pdf"])
    assert result.exit_code != 0 and "pdf" in result.output
    CliRunner().invoke(pull, [])
    assert seen == {"company": (), "format": None}


def test_the_emulator_starts_with_only_a_port_as_offramp_emulate_does() -> None:
    emu = RqEmulator(port=0)
    emu.start()
    try:
        answer = requests.get(emu.url + "/partner/relationships", timeout=5,
                              headers={"Authorization": "Bearer rq-demo-bearer-token"})
        assert [c["CompanyID"] for c in answer.json()] == [14682, 21090, 30517]
    finally:
        emu.stop()
