"""``offramp pull`` (sources write the warehouse, windows replaced) and ``offramp emulate``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
import pyarrow as pa
import pytest

from connector import PluginTable, PullSummary, Settings, Source, hookimpl
from connector.engines.warehouse import Engine


class WeatherSettings(Settings):
    city: str = "Seattle"


WEATHER = PluginTable("weather", pa.schema([("day", pa.date32()), ("city", pa.string()),
                                              ("degrees", pa.int64())]), key=("day",))


class Weather(Source):
    """Writes one row per day of the window into ``weather``."""

    name = "weather"
    summary = "Daily weather, for tests"
    Settings = WeatherSettings

    def tables(self) -> tuple[PluginTable, ...]:
        return (WEATHER,)

    @classmethod
    def cli_options(cls) -> list[click.Parameter]:
        return [click.Option(["--degrees"], type=int, default=10)]

    def pull(self, *, writer, start: dt.date, stop: dt.date,
             options: dict[str, Any]) -> PullSummary:
        summary = PullSummary()
        day = start
        while day <= stop:
            table = pa.table({"day": [day], "city": [self.settings.city],
                              "degrees": [options["degrees"]]})
            summary.rows["weather"] = summary.rows.get("weather", 0) + writer.replace(
                WEATHER, table, where={"day": day})
            summary.windows += 1
            day += dt.timedelta(days=1)
        summary.rejected.append(("2025-01-01", "a bad row"))
        summary.notes.append("done")
        return summary


class WeatherPlugin:
    @hookimpl
    def register_sources(self, register):
        register(Weather)


@pytest.fixture
def weather(registered) -> None:
    registered(WeatherPlugin(), name="weather-plugin")


def test_pull_writes_and_replaces_windows(project, cli_runner, weather) -> None:
    first = cli_runner("pull", "weather", "--from", "2025-01-01", "--to", "2025-01-03")
    assert first.exit_code == 0, first.output
    assert "weather: 3 rows written" in first.stdout and "3 windows replaced" in first.stdout
    assert "rejected 2025-01-01: a bad row" in first.stdout and "done" in first.stdout
    again = cli_runner("pull", "weather", "--from", "2025-01-02", "--to", "2025-01-03",
                       "--degrees", "20")
    assert again.exit_code == 0, again.output
    with Engine(project.project.warehouse) as engine:
        rows = engine.rows("SELECT day, degrees FROM weather ORDER BY day")
    assert rows == [(dt.date(2025, 1, 1), 10), (dt.date(2025, 1, 2), 20),
                    (dt.date(2025, 1, 3), 20)]


def test_pull_reads_its_settings_from_offramp_toml(project, cli_runner, weather) -> None:
    (project.root / "offramp.toml").write_text('[sources.weather]\ncity = "Oslo"\n')
    assert cli_runner("pull", "weather", "--from", "2025-01-01", "--to", "2025-01-01") \
        .exit_code == 0
    with Engine(project.project.warehouse) as engine:
        assert engine.rows("SELECT city FROM weather") == [("Oslo",)]
    (project.root / "offramp.toml").write_text('[sources.weather]\nwind = "strong"\n')
    bad = cli_runner("pull", "weather", "--from", "2025-01-01", "--to", "2025-01-01")
    assert bad.exit_code == 1 and "setting `wind` in [sources.weather] of offramp.toml: the " \
        "weather source has no such setting" in bad.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "2025-01-03", "--to", "2025-01-01"], "--to is before --from"),
    (["--from", "yesterday", "--to", "2025-01-01"], "'yesterday' is not a date"),
])
def test_pull_checks_its_dates(cli_runner, weather, args: list[str], message: str) -> None:
    result = cli_runner("pull", "weather", *args)
    assert result.exit_code == 2 and message in result.output


def test_pull_lists_the_sources(cli_runner, weather) -> None:
    result = cli_runner("pull", "--help")
    assert result.exit_code == 0 and "weather" in result.output
    assert cli_runner("pull", "nowhere", "--from", "x", "--to", "y").exit_code == 2


def test_emulate_needs_a_known_plugin_with_an_emulator(cli_runner) -> None:
    unknown = cli_runner("emulate", "nowhere")
    assert unknown.exit_code == 1 and "no destination or source named 'nowhere'" in unknown.stderr
    none = cli_runner("emulate", "jsonl")
    assert none.exit_code == 1 and "jsonl ships no emulator" in none.stderr
