"""``plan()`` predicts what the next run does, and writes nothing while doing it."""

from __future__ import annotations

import datetime as dt
import hashlib

from connector import Plan, hookimpl
from connector import registry
from connector.engines.warehouse import Warehouse, WarehouseWriter
from plugins.jsonl import JsonlDestination
from plugins.meta.demo import JOB, TOKEN

#: One clock for the plans and the runs they predict, so that no event crosses a time
#: window between the two.
NOW = dt.datetime.now(dt.UTC)


def no_wait(seconds: float) -> None:
    """Retries never really wait in tests."""


def state_file(project):
    return project.project.state_path(JOB)


def test_a_plan_before_the_first_run_predicts_it(meta_project, emulator):
    plan = meta_project.plan(JOB, now=NOW)
    assert isinstance(plan, Plan) and plan.job == JOB and plan.destination == "meta"
    assert not state_file(meta_project).exists()  # planning created no state

    summary = meta_project.run(JOB, now=NOW, sleep=no_wait)
    k = summary.counts
    assert summary.status == "succeeded", summary.error
    assert (plan.new, plan.changed, plan.retry, plan.unchanged) == (k.delivered, 0, 0, 0)
    assert plan.to_send == k.delivered == emulator.received_count > 0
    assert plan.rejected == k.rejected > 0
    assert plan.reasons == k.reasons
    assert plan.events == k.events and plan.rows == k.rows_read


def test_after_a_run_the_plan_sends_nothing_and_the_next_run_agrees(meta_project, emulator):
    first = meta_project.run(JOB, now=NOW, sleep=no_wait)
    plan = meta_project.plan(JOB, now=NOW)
    assert plan.to_send == 0 and plan.payload_bytes == 0
    # Events sent on the first run's 62-day window that are now past the 7-day one are
    # unchanged, not rejected: what the run does with them too.
    assert plan.unchanged == first.counts.delivered
    again = meta_project.run(JOB, now=NOW, sleep=no_wait)
    assert (again.counts.delivered, again.counts.unchanged) == (0, plan.unchanged)
    assert again.counts.rejected == plan.rejected and again.counts.reasons == plan.reasons


def test_events_that_failed_are_planned_as_retries(meta_project, emulator, monkeypatch):
    emulator.expire_token(TOKEN)
    failed = meta_project.run(JOB, now=NOW, sleep=no_wait)
    assert failed.status == "failed" and "META_ACCESS_TOKEN" in (failed.error or "")
    plan = meta_project.plan(JOB, now=NOW)
    assert plan.retry == failed.counts.failed > 0
    assert plan.to_send == plan.retry + plan.new

    emulator.tokens.add("renewed-token")
    monkeypatch.setenv("META_ACCESS_TOKEN", "renewed-token")
    retried = meta_project.run(JOB, now=NOW, sleep=no_wait)
    assert retried.status == "succeeded"
    assert retried.counts.delivered == plan.to_send


def test_changed_customers_are_planned_as_changed(own_meta_project, emulator):
    project = own_meta_project
    project.run(JOB, now=NOW, sleep=no_wait)
    warehouse = project.project.warehouse
    with WarehouseWriter(Warehouse("duckdb", warehouse.path)) as writer:
        assert writer.con is not None
        writer.con.execute(
            "UPDATE Customer_360 SET email = lower(amperity_id) || '@example.net' "
            "WHERE email IS NULL AND hash(amperity_id) % 3 = 0").fetchall()
    plan = project.plan(JOB, now=NOW)
    assert plan.changed > 0 and plan.new > 0  # re-matched orders; orders with no key before
    summary = project.run(JOB, now=NOW, sleep=no_wait)
    assert summary.counts.delivered == plan.to_send
    assert summary.counts.unchanged == plan.unchanged


def test_planning_writes_nothing_and_events_plan_alike(meta_project, emulator):
    meta_project.run(JOB, now=NOW, sleep=no_wait)
    path = state_file(meta_project)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    runs = meta_project.runs(JOB).num_rows
    with meta_project.events(JOB) as events:
        assert events.plan() == meta_project.plan(JOB, now=events.now)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert meta_project.runs(JOB).num_rows == runs == 1


def test_payload_bytes_are_what_a_dry_run_writes(jsonl_project):
    plan = jsonl_project.plan("people")
    dry = jsonl_project.run("people", dry_run=True)
    # jsonl requests are the payloads, one per line.
    assert dry.counts.bytes == plan.payload_bytes + plan.to_send
    assert plan.as_dict()["to_send"] == 2 and plan.reasons == {"id is missing": 1}


class _OnceDestination(JsonlDestination):
    """A pixel-like destination: a delivered event is never sent again."""

    name = "jsonl_once"
    resend_changed = False


@hookimpl
class _OncePlugin:
    @hookimpl
    def register_destinations(self, register):
        register(_OnceDestination)


def test_destinations_that_never_resend_plan_changed_events_as_unchanged(jsonl_project):
    plugin = _OncePlugin()
    registry.register(plugin, name="test-jsonl-once")
    try:
        job = jsonl_project.root / "queries" / "people.sql"
        job.write_text(job.read_text().replace('"jsonl"', '"jsonl_once"'))
        jsonl_project.run("people")
        job.write_text(job.read_text().replace("SELECT id, city", "SELECT id, upper(city) AS city"))
        plan = jsonl_project.plan("people")
        assert (plan.changed, plan.unchanged) == (0, 2)
        assert jsonl_project.run("people").counts.delivered == 0
    finally:
        registry.unregister("test-jsonl-once")
