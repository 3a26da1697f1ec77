"""The conformance suite's named checks: a sound destination passes each of them, and
for each check a destination that breaks what it guards fails it, one check at a time
(run_check), with a message that says what to fix; the built-in jsonl destination
passes (the other built-ins' conformance tests are in their own folders)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pydantic
import pytest

from connector import (
    Batch,
    Column,
    Contract,
    Destination,
    Fatal,
    Outcome,
    PluginError,
    Retryable,
    Settings,
    hookimpl,
    shaped_schema,
)
from connector.kit import http, pii
from connector.kit.events import REJECT_TIMED, SOURCE_KEY, SOURCE_ROWS
from connector.testing import CHECKS, RecordingSink, check_destination, run_check
from plugins.jsonl import JsonlDestination

TOKEN = "s4mple-token-value"
ENV = {"SAMPLE_TOKEN": TOKEN}
ROWS = [{"id": i, "email": f"Person{i}@Example.com", "phone": f"+1 650 555 01{i:02d}",
         "value": 1.5 * i} for i in range(1, 4)]
BAD_ROWS = [{"id": -1, "email": "minus.one@example.com", "phone": None, "value": 1.0}]


class SampleSettings(Settings):
    url: str
    token_env: str = "SAMPLE_TOKEN"
    value_cap: float = pydantic.Field(1000.0, gt=0)


class Sample(Destination):
    """A sound destination; the tests break one thing at a time in subclasses."""

    name = "sample"
    contract = Contract(required=(Column("id", "integer"),),
                        optional=(Column("email", "text"), Column("phone", "text"),
                                  Column("value", "number")))
    Settings = SampleSettings
    events_schema = shaped_schema(SOURCE_ROWS)
    #: the payload's fields (JSON object arguments, SQL over the row ``src``)
    fields = ("'id', src.id, 'email', " + pii.hashed("src.email", pii.email("src.email")) +
              ", 'phone', " + pii.hashed("src.phone", pii.phone("src.phone")) +
              ", 'value', src.value")
    reject = "CASE WHEN src.id < 0 THEN 'id is negative' END"
    source_rows = "1"

    def shape_sql(self, source: str, columns: dict[str, str]) -> str:
        return (f"SELECT CAST(src.id AS VARCHAR) AS event_key, NULL AS route, "
                f"json_object({self.fields})::VARCHAR AS payload, {self.reject} AS reject_reason, "
                f"{self.source_rows} AS source_rows FROM {source} AS src")

    def open(self, session: Any) -> None:
        super().open(session)
        self.token = self.read_token()

    def read_token(self) -> str:
        return self.secret(self.settings.token_env).reveal()

    def deliver(self, batch: Batch) -> Outcome:
        response = http.send(self.http, "POST", self.settings.url, data=self.encode(batch),
                             timeout=5, headers={"Authorization": f"Bearer {self.token}"})
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(f"HTTP {response.status_code}")
        if not response.ok:
            raise Fatal(f"HTTP {response.status_code}: check {self.settings.token_env}")
        return Outcome()


def breaking(name: str, **overrides: Any) -> type:
    """A subclass of :class:`Sample` called ``name`` with ``overrides``."""
    return type(name, (Sample,), {"name": name.lower(), **overrides})


class LaxSettings(SampleSettings):
    model_config = pydantic.ConfigDict(extra="allow")


def _leaky_token(self: Sample) -> str:
    return os.environ[self.settings.token_env]  # read around self.secret(): never scrubbed


def _leaky_deliver(self: Sample, batch: Batch) -> Outcome:
    response = http.send(self.http, "POST", self.settings.url, data=self.encode(batch), timeout=5)
    if response.status_code == 401:
        raise Fatal(f"the endpoint refused the token {self.token}")
    if response.status_code >= 500:
        raise Retryable(f"HTTP {response.status_code}")
    return Outcome()


#: check -> a destination that breaks it, and what the failure says.
BROKEN = {
    "declared": (breaking("Undeclared", contract=Contract()), "declare the columns"),
    "settings refused": (breaking("Lax", Settings=LaxSettings),
                         "were accepted: make Settings a subclass of connector.Settings"),
    "delivered once": (breaking("Clocked", fields=Sample.fields + ", 'sent', now()::VARCHAR"),
                       "a second run sent events again"),
    "rows counted": (breaking("Miscounted", source_rows="2"),
                     "recorded 6 rows read: source_rows must count"),
    "rejects have reasons": (breaking("Accepting", reject="NULL"), "bad rows were not rejected"),
    "secrets never shown": (breaking("Leaky", read_token=_leaky_token, deliver=_leaky_deliver),
                            "the value of SAMPLE_TOKEN appeared"),
    "no raw PII sent": (breaking("Raw", fields="'id', src.id, 'email', src.email"),
                        "a raw email value of the test rows appears in the request POST /in"),
    "empty input": (breaking("Heartbeat", shape_sql=lambda self, source, columns: (
        Sample.shape_sql(self, source, columns) + " UNION ALL SELECT 'heartbeat', NULL, '{}', "
        "NULL, 0")), "a run with no rows made 1 events"),
}


def arguments(sink: RecordingSink, tmp_path: Any) -> dict[str, Any]:
    return {"settings": {"url": f"{sink.url}/in"}, "rows": ROWS, "bad_rows": BAD_ROWS,
            "emulator": sink, "env": ENV, "bad_settings": {"url": "x", "value_cap": -1},
            "workdir": tmp_path}


def test_a_sound_destination_passes_every_check_that_applies(tmp_path, recording_sink):
    seen = check_destination(Sample, **arguments(recording_sink, tmp_path))
    applicable = [c.name for c in CHECKS if c.name not in ("unique keys", "source key")]
    assert list(seen) == applicable
    assert seen["no raw PII sent"].startswith("no raw email, phone in ")
    assert seen["rows counted"] == "3 rows read"


@pytest.mark.parametrize("check", sorted(BROKEN))
def test_each_check_fails_a_destination_that_breaks_it(tmp_path, recording_sink, check):
    destination, message = BROKEN[check]
    args = arguments(recording_sink, tmp_path)
    # A token no earlier test read: offramp scrubs every secret it has read, in any text.
    args["env"] = {"SAMPLE_TOKEN": f"never-read-before-{check.replace(' ', '-')}"}
    with pytest.raises(AssertionError, match=rf"conformance check '{check}' \(.*\) failed: "
                                             rf".*{message}"):
        run_check(check, destination, **args)
    # The same destination passes the sound destination's other checks that it keeps.
    if check in ("rows counted", "no raw PII sent", "rejects have reasons"):
        assert run_check("delivered once", destination, **arguments(recording_sink, tmp_path))


def test_no_raw_pii_is_checked_in_dry_run_bodies_without_an_emulator(tmp_path):
    raw, _ = BROKEN["no raw PII sent"]
    with pytest.raises(AssertionError, match="appears in a request body a dry run built"):
        run_check("no raw PII sent", raw, settings={"url": "http://127.0.0.1:9/in"}, rows=ROWS,
                  emulator=None, workdir=tmp_path)


def test_contract_enforced_fails_when_the_core_does_not_enforce_it(tmp_path, monkeypatch):
    """The core enforces a destination's declared contract; the check proves it does
    (here, with the core's contract check switched off)."""
    from connector.validation import prepare

    monkeypatch.setattr(prepare, "check_contract", lambda *args: [])
    with pytest.raises(AssertionError, match="a query without the required columns validated"):
        run_check("contract enforced", Sample, settings={"url": "http://127.0.0.1:9/in"},
                  rows=ROWS, emulator=None, workdir=tmp_path)


def test_checks_are_chosen_by_name(tmp_path, recording_sink):
    args = arguments(recording_sink, tmp_path)
    assert list(check_destination(Sample, only=["empty input", "declared"], **args)) == [
        "declared", "empty input"]
    skipped = check_destination(Sample, skip=[c.name for c in CHECKS if c.name != "retried"],
                                **{**args, "workdir": tmp_path / "again"})
    assert list(skipped) == ["retried"]
    with pytest.raises(ValueError, match="no conformance check named 'retry'.*the checks: "
                                         "declared, settings refused"):
        check_destination(Sample, only=["retry"], **args)
    assert run_check("unique keys", Sample, **args) is None  # it does not apply


def test_every_check_has_a_name_and_a_one_line_purpose():
    names = [c.name for c in CHECKS]
    assert len(set(names)) == len(names)
    assert all(c.purpose and "\n" not in c.purpose and c.when for c in CHECKS)


def install(offramp_plugin, destination, name: str) -> None:
    """Register ``destination`` as the one destination of a plugin called ``name``."""
    class Plugin:
        @hookimpl
        def register_destinations(self, register):
            register(destination)

    offramp_plugin(Plugin(), name)


def test_conformance_suite_catches_a_destination_that_never_retries(tmp_path, recording_sink,
                                                                   offramp_plugin):
    class Brittle(Destination):
        name = "brittle"
        contract = Contract(required=(Column("id"),))

        def shape_sql(self, source, columns):
            return (f"SELECT CAST(id AS VARCHAR) AS event_key, NULL AS route, to_json(s)::VARCHAR "
                    f"AS payload, NULL AS reject_reason FROM {source} AS s")

        def deliver(self, batch: Batch) -> Outcome:
            response = http.send(self.http, "POST", self.settings_url, data=self.encode(batch),
                                 timeout=5)
            if not response.ok:
                raise Fatal(f"HTTP {response.status_code}")  # never retries: a bug
            return Outcome()

    install(offramp_plugin, Brittle, "brittle-plugin")
    Brittle.settings_url = f"{recording_sink.url}/in"
    with pytest.raises(AssertionError, match="503 was not retried"):
        check_destination(Brittle, settings={}, rows=[{"id": 1}], emulator=recording_sink,
                          workdir=tmp_path)


def test_conformance_suite_catches_a_false_unique_keys_claim(tmp_path, offramp_plugin):
    class Boastful(Destination):
        name = "boastful"
        contract = Contract(required=(Column("id"),))
        unique_keys = True  # but one event per row, and rows may repeat a key

        def shape_sql(self, source, columns):
            return (f"SELECT CAST(id AS VARCHAR) AS event_key, NULL AS route, to_json(s)::VARCHAR "
                    f"AS payload, NULL AS reject_reason FROM {source} AS s")

        def deliver(self, batch):
            return Outcome()

    install(offramp_plugin, Boastful, "boastful-plugin")
    with pytest.raises(AssertionError, match=r"unique_keys is declared.*\('1', 2\)"):
        check_destination(Boastful, settings={}, rows=[{"id": 1}], emulator=None,
                          workdir=tmp_path)


def _keyed(name: str, payload: str, *, with_column: bool = True, reject: str = "NULL"):
    """A destination grouping rows by ``k`` into one event each, that declares
    ``source_key``; ``payload`` and ``reject`` (its reject reason, marked not timed) are
    SQL over the group (``g``) and the run's clock ``{now}``."""
    class Keyed(Destination):
        contract = Contract(required=(Column("k"), Column("v")))
        events_schema = shaped_schema(SOURCE_KEY, REJECT_TIMED)

        def source_key(self, columns):
            return "CAST(src.k AS VARCHAR)"

        def shape_sql(self, source, columns):
            now = int(self.context.now.timestamp())
            column = ", k AS source_key, FALSE AS reject_timed" if with_column else ""
            return (f"SELECT k AS event_key, NULL AS route, {payload.format(now=now)} AS payload, "
                    f"{reject.format(now=now)} AS reject_reason{column} "
                    "FROM (SELECT CAST(k AS VARCHAR) AS k, "
                    f"sum(v) AS total, sum(sum(v)) OVER () AS everyone FROM {source} AS src "
                    "GROUP BY 1) AS g")

        def deliver(self, batch):
            return Outcome()

    Keyed.name = name
    return Keyed


@pytest.mark.parametrize(("payload", "with_column", "message", "reject"), [
    ("'{{\"total\":' || total || '}}'", False, "returns no source_key, reject_timed column",
     "NULL"),
    ("'{{\"share\":' || (total / everyone) || '}}'", True,
     "differ when their rows are shaped without the others'", "NULL"),
    ("'{{\"total\":' || total || ',\"sent_at\":' || {now} || '}}'", True,
     "depends on the run's clock", "NULL"),
    ("'{{\"total\":' || total || '}}'", True, "rejected with reject_timed FALSE",
     "CASE WHEN total > 6 THEN 'too big at ' || {now} END"),
])
def test_conformance_suite_catches_a_broken_source_key_promise(tmp_path, offramp_plugin, payload,
                                                               with_column, message, reject):

    destination = _keyed("keyed", payload, with_column=with_column, reject=reject)

    install(offramp_plugin, destination, "keyed-plugin")
    rows = [{"k": k, "v": v} for k, v in (("a", 1), ("a", 2), ("b", 5), ("c", 7))]
    with pytest.raises(AssertionError if with_column else PluginError, match=message):
        check_destination(destination, settings={}, rows=rows, emulator=None, workdir=tmp_path)


def test_conformance_suite_passes_a_destination_that_keeps_the_source_key_promise(
        tmp_path, offramp_plugin):

    destination = _keyed("keyed", "'{{\"total\":' || total || '}}'")

    install(offramp_plugin, destination, "keyed-plugin")
    rows = [{"k": k, "v": v} for k, v in (("a", 1), ("a", 2), ("b", 5), ("c", 7))]
    report = check_destination(destination, settings={}, rows=rows, emulator=None,
                               workdir=tmp_path)
    assert report["source key"].startswith("3 keys")


def test_builtin_jsonl_passes_the_conformance_suite(tmp_path):
    report = check_destination(
        JsonlDestination,
        settings={"path": str(tmp_path / "out" / "events.jsonl")},
        rows=[{"id": i, "at": dt.datetime(2026, 1, 1)} for i in range(3)],
        bad_rows=[{"id": None, "at": None}], emulator=None, workdir=tmp_path / "work")
    assert list(report) == ["declared", "settings refused", "contract enforced", "delivered once",
                            "rows counted", "rejects have reasons", "empty input"]
    lines = (tmp_path / "out" / "events.jsonl").read_text().splitlines()
    assert len(lines) == 3 + 3  # the good project's 3, and the mixed project's 3 good rows


def test_docs_plugins_md_lists_every_check_in_order():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    table = docs.split("### The conformance suite", 1)[1].split("\n### ", 1)[0]
    listed = re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE)
    assert listed == [c.name for c in CHECKS]
