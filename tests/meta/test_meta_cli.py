"""``offramp demo`` end to end, and the Meta destination as the CLI lists and
serves it (``offramp destinations``, ``offramp emulate meta``)."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from connector import registry
from connector.cli import app as offramp_cli
from connector.engines.warehouse import Engine, Warehouse
from plugins.meta.destination import MetaDestination
from plugins.meta.emulator import MetaEmulator

#: The example query of the Amperity seed (004_d1589489ee2a53b2.txt), as written there,
#: trailing space after ``action_source`` included.
SEED_QUERY = "\n".join([
    "SELECT",
    "  c360.amperity_id AS external_id",
    "  ,c360.email AS email",
    "  ,c360.phone AS phone",
    "  ,c360.given_name AS given_name",
    "  ,c360.surname AS surname",
    "  ,c360.birthdate AS birthdate",
    "  ,c360.gender AS gender",
    "  ,c360.city AS city",
    "  ,c360.state AS state",
    "  ,c360.postal AS postal",
    "  ,c360.country AS country",
    "  ,uit.order_id AS order_id",
    "  ,uit.item_quantity AS quantity",
    "  ,uit.product_id AS product_id",
    "  ,uit.order_datetime AS timestamp",
    "  ,CAST(uit.item_revenue / uit.item_quantity AS DOUBLE) AS price",
    "  ,'USD' AS currency",
    "  ,'physical_store' AS action_source ",
    "FROM Unified_Itemized_Transactions uit",
    "LEFT JOIN Customer_360 c360 ON uit.amperity_id = c360.amperity_id",
    "WHERE uit.order_datetime > (CURRENT_DATE - interval '7' day)",
])
JOB = "meta_offline_events"
demo_test = pytest.mark.slow  # builds a demo warehouse and runs the job twice


def invoke(*args: str):
    offramp_cli.register_plugin_commands()
    return CliRunner().invoke(offramp_cli.cli, list(args), catch_exceptions=False)


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("demo")
    env_before = {k: os.environ.get(k) for k in ("META_BASE_URL", "META_ACCESS_TOKEN")}
    result = invoke("demo", str(root), "--orders", "300")
    env_after = {k: os.environ.get(k) for k in ("META_BASE_URL", "META_ACCESS_TOKEN")}
    return root, result, env_before, env_after


def by_reason(output: str, heading: str) -> dict[str, int]:
    """The ``count  reason`` lines under ``heading`` in a run summary."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == heading)
    found = {}
    for line in lines[start + 1:]:
        match = re.match(r"\s+([\d,]+)  (.*)$", line)
        if not match:
            break
        found[match[2]] = int(match[1].replace(",", ""))
    return found


@demo_test
def test_demo_succeeds_and_prints_what_was_sent_and_rejected(demo) -> None:
    _, result, _, _ = demo
    assert result.exit_code == 0, result.output
    output = flat(result.output)
    delivered = int(re.search(r"delivered ([\d,]+)", output)[1].replace(",", ""))
    rejected = int(re.search(r"rejected ([\d,]+)", output)[1].replace(",", ""))
    assert delivered > 0 and rejected > 0
    # Events and line items apart: returned lines are counted as line items, never as
    # rejected events (the demo's orders have returned lines).
    events = by_reason(result.output, "rejected events, by reason:")
    lines = by_reason(result.output, "line items not sent, by reason:")
    assert "no usable email or phone (missing or invalid after normalization)" in events
    assert list(lines) == ["quantity <= 0 (return or cancellation): line item not sent"]
    assert sum(events.values()) == rejected
    assert re.search(r"line items not sent ([\d,]+) \(", output)[1] == f"{sum(lines.values()):,}"
    accepted = int(re.search(r"emulator: accepted ([\d,]+) events", output)[1])
    assert accepted == delivered


@demo_test
def test_demo_saves_the_seed_query_unchanged(demo) -> None:
    root, _, _, _ = demo
    text = (root / "queries" / f"{JOB}.sql").read_text(encoding="utf-8")
    assert text.startswith("/* offramp\n")
    header, query = text.split("*/\n", 1)
    assert 'destination = "meta"' in header
    assert query == SEED_QUERY + "\n"


@demo_test
def test_demo_second_run_sends_nothing(demo) -> None:
    root, result, _, _ = demo
    assert re.search(r"run again: ([\d,]+) events unchanged, 0 sent", flat(result.output))
    state = root / ".offramp" / "state" / f"{JOB}.duckdb"
    with Engine(Warehouse("duckdb", root / "warehouse.duckdb"), state=state) as engine:
        runs = engine.rows("SELECT status, delivered, unchanged FROM state.runs ORDER BY run_id")
    assert len(runs) == 2
    (status1, delivered1, _), (status2, delivered2, unchanged2) = runs
    assert status1 == status2 == "succeeded"
    assert delivered1 > 0 and delivered2 == 0 and unchanged2 == delivered1


@demo_test
def test_demo_leaves_the_environment_as_it_was(demo) -> None:
    _, _, before, after = demo
    assert before == after


@demo_test
def test_the_saved_job_validates_against_meta(demo) -> None:
    root, _, _, _ = demo
    result = invoke("--project", str(root), "validate", JOB)
    assert result.exit_code == 0, result.output
    assert "valid:" in result.output and "meta" in result.output


@demo_test
def test_demo_keeps_a_job_the_user_edited(tmp_path: Path) -> None:
    first = invoke("demo", str(tmp_path), "--orders", "50")
    assert first.exit_code == 0, first.output
    job = tmp_path / "queries" / f"{JOB}.sql"
    edited = job.read_text(encoding="utf-8").replace("WHERE uit.order_datetime",
                                                     "WHERE uit.item_quantity > 0 AND "
                                                     "uit.order_datetime")
    job.write_text(edited, encoding="utf-8")
    second = invoke("demo", str(tmp_path), "--orders", "50")
    assert second.exit_code == 0, second.output
    assert job.read_text(encoding="utf-8") == edited
    assert "quantity <= 0" not in second.output  # the user's filter took effect


def test_meta_is_registered_with_its_emulator() -> None:
    assert registry.destination("meta") is MetaDestination
    assert MetaDestination.emulator is MetaEmulator
    assert MetaEmulator.name == "meta"


def test_destinations_lists_meta_with_an_emulator() -> None:
    result = invoke("destinations")
    assert result.exit_code == 0
    [line] = [line for line in result.output.splitlines() if re.match(r"\W*meta\b", line)]
    assert "yes" in line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_emulate_meta_serves_on_the_given_port(monkeypatch) -> None:
    """``offramp emulate meta --port P`` serves until interrupted: the wait is
    replaced by a request to the emulator, then a Ctrl-C."""
    port = _free_port()
    answers = []

    def serve_one_request_then_interrupt(seconds: float) -> None:
        answers.append(requests.get(f"http://127.0.0.1:{port}/__emulator__/state", timeout=5))
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", serve_one_request_then_interrupt)
    result = invoke("emulate", "meta", "--port", str(port))
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}" in result.output
    [answer] = answers
    assert answer.status_code == 200 and answer.json()["events"] == []


def test_emulate_prints_the_lines_that_point_a_job_at_it(monkeypatch) -> None:
    port = _free_port()
    monkeypatch.setattr(time, "sleep", lambda seconds: (_ for _ in ()).throw(KeyboardInterrupt))
    result = invoke("emulate", "meta", "--port", str(port))
    assert result.exit_code == 0, result.output
    assert "  export META_ACCESS_TOKEN=offramp-emulator-token" in result.stderr
    assert "and in the job's [settings]:" in result.stderr
    assert f'  base_url = "http://127.0.0.1:{port}"' in result.stderr


def test_the_printed_connection_lines_make_a_job_deliver(project, cli_runner,
                                                         monkeypatch) -> None:
    with MetaEmulator() as emu:
        connection = emu.connection()
        for name, value in connection.env.items():
            monkeypatch.setenv(name, value)
        sql = ("SELECT c.amperity_id AS external_id, c.email, c.phone, t.order_id, "
               "t.item_quantity AS quantity, now() - INTERVAL 1 DAY AS timestamp, "
               "CAST(t.item_revenue AS DOUBLE) AS price, 'USD' AS currency "
               "FROM Unified_Itemized_Transactions t JOIN Customer_360 c USING (amperity_id)")
        project.write_job("to_emulator", sql, "meta", dataset_id="123456789012345",
                          default_country="US", **connection.settings)
        result = cli_runner("run", "to_emulator", "--quiet")
        assert result.exit_code == 0, result.output + result.stderr
        assert len(emu.events()) > 0
