"""The ledger diff: changed events are resent, unless the destination says a delivered
event can never be updated (``resend_changed = False``, e.g. a conversion pixel)."""

from __future__ import annotations

import pytest

from connector.run import pipeline
from connector.testing import make_project, write_job
from plugins.jsonl import JsonlDestination


class SendOnce(JsonlDestination):
    name = "jsonl_once"
    resend_changed = False


class Plugin:
    from connector import hookimpl

    @hookimpl
    def register_destinations(self, register):
        register(SendOnce)


@pytest.mark.parametrize(("destination", "resent"), [("jsonl", 1), ("jsonl_once", 0)])
def test_a_changed_event_is_resent_only_when_the_destination_allows(tmp_path, offramp_plugin,
                                                                   destination, resent):
    offramp_plugin(Plugin(), "send-once")
    out = tmp_path / "events.jsonl"
    project = make_project(tmp_path / "p", tables={"t": [{"id": 1, "v": 10}, {"id": 2, "v": 20}]},
                           jobs={"j": (destination, {"path": str(out)}, "SELECT id, v FROM t")})
    assert pipeline.run(project, "j").counts.delivered == 2
    write_job(project.root, "j", destination, {"path": str(out)},
              "SELECT id, CASE WHEN id = 1 THEN 11 ELSE v END AS v FROM t")
    again = pipeline.run(project, "j")
    assert (again.counts.delivered, again.counts.unchanged) == (resent, 2 - resent)
    assert len(out.read_text().splitlines()) == 2 + resent


class RefuseNegative(JsonlDestination):
    """Sends once, and refuses (as an API would) an event whose ``v`` is negative."""

    name = "jsonl_refuse"
    resend_changed = False

    def deliver(self, batch):
        import json

        from connector.kit import Outcome

        bad = {i: "v is negative" for i, p in enumerate(batch.payloads) if json.loads(p)["v"] < 0}
        super().deliver(batch)
        return Outcome(rejected=bad)


class RefusePlugin:
    from connector import hookimpl

    @hookimpl
    def register_destinations(self, register):
        register(RefuseNegative)


def test_an_event_the_destination_refused_is_resent_once_its_payload_changes(tmp_path,
                                                                              offramp_plugin):
    offramp_plugin(RefusePlugin(), "refuse")
    out = tmp_path / "events.jsonl"
    project = make_project(tmp_path / "p", tables={"t": [{"id": 1, "v": -1}, {"id": 2, "v": 20}]},
                           jobs={"j": ("jsonl_refuse", {"path": str(out)}, "SELECT id, v FROM t")})
    first = pipeline.run(project, "j")
    assert (first.counts.delivered, first.counts.rejected) == (1, 1)
    same = pipeline.run(project, "j")  # unchanged: neither is sent again
    assert (same.counts.delivered, same.counts.rejected, same.counts.unchanged) == (0, 0, 2)
    write_job(project.root, "j", "jsonl_refuse", {"path": str(out)},
              "SELECT id, CASE WHEN id = 1 THEN 1 ELSE v + 1 END AS v FROM t")
    fixed = pipeline.run(project, "j")  # the refused one is sent again; the delivered not
    assert (fixed.counts.delivered, fixed.counts.unchanged) == (1, 1)
