"""The conformance checks, in the order :func:`~connector.testing.check_destination`
runs them (:data:`CHECKS`). Each is a function of the shared
:class:`~connector.testing.check_context.Context` that returns what it saw (None when
it does not apply) and fails with an AssertionError that says what to fix."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import pyarrow as pa

from connector.kit.contract import Contract
from connector.kit.destination import Destination, Limits
from connector.kit.emulator import Fault
from connector.kit.errors import OfframpError, ValidationError
from connector.kit.events import SOURCE_ROWS
from connector.testing.check_context import SQL, TABLE, Check, Context
from connector.testing.source_key import check_source_key


def declared(ctx: Context) -> str:
    cls = ctx.destination
    assert isinstance(cls, type) and issubclass(cls, Destination), \
        f"{cls!r} is not a destination class: subclass connector.Destination"
    assert cls.name, "set the class attribute `name` (what jobs write in destination = ...)"
    assert isinstance(cls.contract, Contract) and cls.contract.columns(), \
        "declare the columns the destination needs: contract = connector.Contract(...)"
    assert isinstance(cls.limits, Limits) and cls.limits.max_events >= 1 and \
        cls.limits.concurrency >= 1, \
        "declare limits = connector.Limits(...) with max_events and concurrency of 1 or more"
    assert isinstance(cls.events_schema, pa.Schema), \
        "events_schema must be connector.shaped_schema(...), an Arrow schema"
    return f"{len(cls.contract.columns())} columns"


def settings_refused(ctx: Context) -> str:
    wrongs = [{**ctx.settings, "__not_a_setting__": 1}]
    wrongs += [ctx.bad_settings] if ctx.bad_settings is not None else []
    for i, wrong in enumerate(wrongs):
        project = ctx.project(f"settings-{i}", settings=wrong)
        try:
            project.validate("job")
        except ValidationError as exc:
            assert "setting" in str(exc), (
                f"the error for settings {wrong!r} does not say which setting is wrong: {exc}")
        else:
            raise AssertionError(
                f"settings {wrong!r} were accepted: make Settings a subclass of "
                "connector.Settings (unknown keys are errors) whose fields validate values")
    return f"{len(wrongs)} wrong settings refused"


def contract_enforced(ctx: Context) -> str:
    required = [c.name for c in ctx.destination.contract.required]
    if required:
        lone = ctx.project("contract", rows=[{"nothing": 1}], sql=f"SELECT nothing FROM {TABLE}")
        try:
            lone.validate("job")
        except ValidationError as exc:
            missing = [n for n in required if f"`{n}`" not in str(exc)]
            assert not missing, f"the error for a query without them does not name {missing}"
        else:
            raise AssertionError("a query without the required columns validated: list them in "
                                 "contract = connector.Contract(required=...)")
    return f"missing columns named: {', '.join(required) or '(none)'}"


def delivered_once(ctx: Context) -> str:
    good = ctx.project("delivered")
    before = ctx.calls()
    first = ctx.run(good)
    assert first.status == "succeeded", (
        f"the first run of the good rows {first.status}: {first.error} (deliver() must accept "
        "them; are the settings pointing at the emulator?)")
    assert first.counts.delivered >= 1, (
        "nothing was delivered: the rows given must make at least one event that shape_sql "
        f"does not reject (rejected: {first.counts.reasons})")
    assert ctx.emulator is None or ctx.calls() > before, \
        "the emulator received nothing: deliver() must send the batch to the settings' URL"
    sent = ctx.calls()
    again = ctx.run(good)
    assert again.counts.delivered == 0 and ctx.calls() == sent, (
        "a second run sent events again: event_key and payload must be the same for the same "
        "rows on every run (no run time, random value or row order in them)")
    return f"{first.counts.delivered} events, re-run sent 0"


def unique_keys(ctx: Context) -> str | None:
    if not ctx.destination.unique_keys:
        return None
    twice = ctx.project("unique-keys", rows=(ctx.rows + ctx.bad_rows) * 2)
    with twice.events("job") as events:
        shared = events.sql("SELECT event_key, count(*) AS n FROM events "
                            "WHERE reject_reason IS NULL GROUP BY event_key "
                            "HAVING count(*) > 1 ORDER BY event_key LIMIT 3")
    found = list(zip(shared.column("event_key").to_pylist(), shared.column("n").to_pylist(),
                     strict=True))
    assert not found, ("unique_keys is declared, but with every row given twice the shaping "
                       f"made several events under one key: {found} (group by the key in "
                       "shape_sql, or leave unique_keys False)")
    return "one event per key with every row twice"


def source_key(ctx: Context) -> str | None:
    if ctx.destination.source_key is Destination.source_key:
        return None
    keyed = ctx.project("source-key", rows=ctx.rows + ctx.bad_rows)
    return check_source_key(keyed.project)


def rows_counted(ctx: Context) -> str | None:
    if SOURCE_ROWS not in ctx.destination.events_schema.names:
        return None
    result = ctx.run(ctx.project("rows-counted"), dry_run=True)
    assert result.ok, f"a dry run of the good rows {result.status}: {result.error}"
    assert result.counts.rows_read == len(ctx.rows), (
        f"the shaping declares source_rows, but a run of {len(ctx.rows)} rows recorded "
        f"{result.counts.rows_read} rows read: source_rows must count the query rows that made "
        "each event (1 when each row makes one event, count(*) when grouping)")
    return f"{len(ctx.rows)} rows read"


def rejects_have_reasons(ctx: Context) -> str | None:
    if not ctx.bad_rows:
        return None
    mixed = ctx.project("rejects", rows=ctx.rows + ctx.bad_rows)
    result = ctx.run(mixed)
    assert result.counts.rejected >= 1, (
        f"bad rows were not rejected ({result.status}): give them a reject_reason in shape_sql, "
        "or return them in Outcome.rejected from deliver()")
    reasons = mixed.rejects("job", result.run_id).column("reason").to_pylist()
    assert reasons and all(r and r.strip() for r in reasons), \
        "a rejected event has no reason: every reject_reason and Outcome.rejected needs a text"
    return f"{len(reasons)} rejected with reasons"


def retried(ctx: Context) -> str | None:
    if ctx.emulator is None:
        return None
    ctx.emulator.inject(Fault(status=503, body={"error": "unavailable"}, times=1))
    waits: list[float] = []
    result = ctx.run(ctx.project("retried"), sleep=waits.append)
    assert result.status == "succeeded" and waits, (
        f"a 503 was not retried ({result.status}: {result.error}): raise connector.Retryable "
        "for 429 and 5xx answers in deliver()")
    return f"503 retried after {waits[0]:.2f}s"


def secrets_never_shown(ctx: Context) -> str | None:
    if not ctx.secrets:
        return None
    texts = [ctx.run(ctx.project("secrets")).error or ""]
    if ctx.emulator is not None:
        ctx.emulator.inject(Fault(status=401, body={"error": "unauthorized"}, times=50))
        try:
            texts.append(ctx.run(ctx.project("secrets-refused")).error or "")
        except OfframpError as exc:
            texts.append(str(exc))
        finally:
            ctx.emulator.clear_faults()
    texts += ctx.log.lines
    texts += [p.read_bytes().decode("latin-1") for p in ctx.base.rglob("*") if p.is_file()]
    leaked = [name for name, value in ctx.env.items() if value in ctx.secrets and
              any(value in text for text in texts)]
    assert not leaked, (
        f"the value of {', '.join(leaked)} appeared in an error, a log line or a file the runs "
        "wrote: read secrets with self.secret(env) and reveal() them only into the request")
    return f"{len(ctx.secrets)} secrets never shown, even when the API refused them"


def no_raw_pii_sent(ctx: Context) -> str | None:
    wanted = sorted(set(_pii_values(ctx.rows + ctx.bad_rows)))
    if not wanted:
        return None
    texts: list[tuple[str, str]] = []
    if ctx.emulator is not None:
        before = ctx.calls()
        ctx.run(ctx.project("pii", rows=ctx.rows + ctx.bad_rows))
        for call in ctx.emulator.calls[before:]:
            sent = [call.body, call.path.encode(),
                    *(v.encode() for vs in call.query.values() for v in vs),
                    *(v.encode() for v in call.headers.values())]
            texts.append((f"the request {call.method} {call.path}", " ".join(map(_text, sent))))
    with _built_bodies(ctx.destination) as bodies:
        dry = ctx.run(ctx.project("pii-dry-run", rows=ctx.rows + ctx.bad_rows), dry_run=True)
    assert dry.ok, f"a dry run of the rows {dry.status}: {dry.error}"
    texts += [("a request body a dry run built", _text(body)) for body in bodies]
    for column, value in wanted:
        where = next((w for w, text in texts if value in text), None)
        assert where is None, (
            f"a raw {column} value of the test rows appears in {where}: normalize and hash "
            f"{column} in shape_sql with connector.kit.pii (for example "
            f"pii.hashed(col, pii.email(col))), and send only the columns the contract declares")
    columns = ", ".join(sorted({c for c, _ in wanted}))
    return (f"no raw {columns} in {len(texts) - len(bodies)} requests and {len(bodies)} "
            "dry-run bodies")


def empty_input(ctx: Context) -> str:
    empty = ctx.project("empty", sql=SQL + " WHERE false")
    before = ctx.calls()
    result = ctx.run(empty)
    assert result.status == "succeeded", f"a run with no rows {result.status}: {result.error}"
    assert result.counts.events == 0, (
        f"a run with no rows made {result.counts.events} events: shape_sql must make events "
        "from the source's rows only")
    assert ctx.calls() == before, "a run with no rows sent requests: send nothing for no events"
    return "no events, no requests"


# -- raw customer information -----------------------------------------------------------------
#: Columns whose values are customer information, by name (case-insensitive).
PII_COLUMNS = re.compile(r"e_?mail|phone|mobile|first_?name|last_?name|full_?name|^fn$|^ln$|"
                         r"street|address|birth|^dob$", re.IGNORECASE)
_PHONE = re.compile(r"phone|mobile", re.IGNORECASE)


def _pii_values(rows: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """``(column, value)`` for each text value of a customer-information column, as the
    checks search for it: trimmed and lowercased, and a phone's digits (values shorter
    than 5 characters, or phones of fewer than 8 digits, are too short to search for)."""
    for row in rows:
        for column, value in row.items():
            if not isinstance(value, str) or not PII_COLUMNS.search(column):
                continue
            forms = {value.strip().lower()}
            if _PHONE.search(column):
                digits = re.sub(r"\D", "", value)
                forms |= {digits} if len(digits) >= 8 else set()
            yield from ((column, form) for form in forms if len(form) >= 5)


def _text(body: bytes) -> str:
    """A request body as lowercase text, also percent-decoded (form bodies, URLs)."""
    text = body.decode("utf-8", "replace").lower()
    return text + " " + unquote_plus(text)


@contextlib.contextmanager
def _built_bodies(destination: Any) -> Iterator[list[bytes]]:
    """Every body the destination's ``encode`` builds in the block (dry runs build
    each request with it)."""
    built: list[bytes] = []
    own = destination.__dict__.get("encode")
    encode = destination.encode

    def recording(self: Any, batch: Any) -> bytes:
        body = encode(self, batch)
        built.append(body)
        return body

    destination.encode = recording
    try:
        yield built
    finally:
        if own is None:
            del destination.encode
        else:
            destination.encode = own


#: The conformance suite, in order.
CHECKS: tuple[Check, ...] = (
    Check("declared", "the class declares a name, a column contract, limits and its events",
          "always", declared),
    Check("settings refused", "unknown and invalid settings are refused, naming the setting",
          "always (and bad_settings, when given)", settings_refused),
    Check("contract enforced", "a query without the required columns is refused, naming them",
          "always", contract_enforced),
    Check("delivered once", "the rows are delivered, and a second run sends nothing again",
          "always", delivered_once),
    Check("unique keys", "with every row twice, still one event per key",
          "the destination declares unique_keys", unique_keys),
    Check("source key", "events per key, from that key's rows alone, the same at any clock",
          "the destination declares source_key()", source_key),
    Check("rows counted", "a run records how many query rows it read",
          "the shaping declares source_rows", rows_counted),
    Check("rejects have reasons", "bad rows are rejected, each with a reason",
          "bad_rows are given", rejects_have_reasons),
    Check("retried", "a 503 is retried", "an emulator is given", retried),
    Check("secrets never shown", "no secret in errors, logs or state files, even on a 401",
          "env holds secrets (on a 401 too with an emulator)", secrets_never_shown),
    Check("no raw PII sent", "no raw email, phone, name or address in any request",
          "the rows have customer-information columns", no_raw_pii_sent),
    Check("empty input", "a run with no rows succeeds and sends nothing", "always",
          empty_input),
)
