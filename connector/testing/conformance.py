"""The conformance suite every destination must pass: :func:`check_destination`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector.kit.emulator import Emulator, Fault
from connector.kit.environ import temporary
from connector.testing.projects import make_project, registered


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


# -- the conformance suite ------------------------------------------------------------------
def check_destination(destination: type, *, settings: dict[str, Any], rows: list[dict[str, Any]],
                      emulator: Emulator | None, env: dict[str, str] | None = None,
                      bad_rows: list[dict[str, Any]] | None = None,
                      bad_settings: dict[str, Any] | None = None,
                      workdir: Path | None = None) -> dict[str, str]:
    """Check that a destination behaves as offramp needs. Raises AssertionError naming
    the failed check; returns check name -> what was seen.

    :param settings: valid settings pointing at ``emulator`` (its ``url``).
    :param rows: query rows that make at least one valid event.
    :param emulator: a started emulator (or :class:`RecordingSink`) of the API; None for a
        destination that makes no HTTP calls (the retry and refused-credentials checks
        are then skipped).
    :param env: environment variables the settings name (secrets); their values must
        never appear in any message, log or state file.
    :param bad_rows: rows that must be rejected before or by the API, each with a reason.
    :param bad_settings: settings that must be refused with a clear message.
    """
    import tempfile

    from connector import registry
    from connector.kit.contract import Contract
    from connector.kit.destination import Destination, Limits
    from connector.kit.errors import OfframpError, ValidationError
    from connector.project import Project
    from connector.run import pipeline
    from connector.state import open_state

    seen: dict[str, str] = {}
    env = dict(env or {})
    secrets = [v for v in env.values() if len(v) >= 4]

    # 1. The declaration.
    assert issubclass(destination, Destination), "must subclass connector.Destination"
    assert destination.name, "set a name"
    assert isinstance(destination.contract, Contract) and destination.contract.columns(), \
        "declare a column contract"
    assert isinstance(destination.limits, Limits) and destination.limits.max_events >= 1 and \
        destination.limits.concurrency >= 1, "declare sane limits"
    seen["declared"] = f"{len(destination.contract.columns())} columns"

    from connector.hookspecs import hookimpl

    class _Plugin:
        @hookimpl
        def register_destinations(self, register):
            register(destination)

    installed = registry.destinations().get(destination.name, (None, ""))[0]
    context = contextlib.nullcontext() if installed is destination else registered(
        _Plugin(), f"conformance-{destination.name}")
    capture = _Capture()
    root_logger = logging.getLogger()
    root_logger.addHandler(capture)
    base = Path(workdir or tempfile.mkdtemp(prefix=f"offramp-conformance-{destination.name}-"))
    try:
        with context, temporary(env):
            sql = "SELECT * FROM conformance_rows"
            good = make_project(base / "good", tables={"conformance_rows": rows},
                                jobs={"job": (destination.name, settings, sql)})
            # 2. Settings are validated, unknown keys refused.
            for wrong in ([{**settings, "__not_a_setting__": 1}] +
                          ([bad_settings] if bad_settings is not None else [])):
                make_project(base / "bad", jobs={"job": (destination.name, wrong, sql)},
                             tables={"conformance_rows": rows})
                try:
                    pipeline.validate(Project(base / "bad"), "job")
                except ValidationError as exc:
                    assert "setting" in str(exc), f"unclear settings error: {exc}"
                else:
                    raise AssertionError(f"settings {wrong!r} were accepted")
            seen["settings"] = "wrong settings refused"
            # 3. The contract is enforced before any row is read.
            required = [c.name for c in destination.contract.required]
            if required:
                lone = make_project(base / "lone", tables={"t": [{"nothing": 1}]},
                                    jobs={"job": (destination.name, settings,
                                                  "SELECT nothing FROM t")})
                try:
                    pipeline.validate(lone, "job")
                except ValidationError as exc:
                    missing = [n for n in required if f"`{n}`" not in str(exc)]
                    assert not missing, f"the contract error does not name {missing}"
                else:
                    raise AssertionError("a query without the required columns validated")
            seen["contract"] = f"missing columns named: {', '.join(required) or '(none)'}"
            # 4. A batch is delivered, once.
            calls = (lambda: len(emulator.calls)) if emulator is not None else (lambda: 0)
            before = calls()
            first = pipeline.run(good, "job", sleep=lambda s: None)
            assert first.status == "succeeded", f"first run {first.status}: {first.error}"
            assert first.counts.delivered >= 1, "nothing was delivered"
            assert emulator is None or calls() > before, "the emulator received nothing"
            sent = calls()
            again = pipeline.run(good, "job", sleep=lambda s: None)
            assert again.counts.delivered == 0 and calls() == sent, \
                "a second run sent events again"
            seen["delivered once"] = f"{first.counts.delivered} events, re-run sent 0"
            # 4b. A destination that declares unique keys makes one event per key, even
            # when every row comes twice.
            if destination.unique_keys:
                twice = make_project(base / "twice",
                                     tables={"conformance_rows": (rows + (bad_rows or [])) * 2},
                                     jobs={"job": (destination.name, settings, sql)})
                shared = _shared_keys(twice)
                assert not shared, ("unique_keys is declared, but with every row given twice "
                                    f"the shaping made several events under one key: {shared}")
                seen["unique keys"] = "one event per key with every row twice"
            # 4c. A destination that names its source key keeps its promise: events
            # made per key, from that key's rows alone, the same at any clock.
            from connector.testing.source_key import check_source_key

            if destination.source_key is not Destination.source_key:
                keyed = make_project(base / "keyed",
                                     tables={"conformance_rows": rows + (bad_rows or [])},
                                     jobs={"job": (destination.name, settings, sql)})
                seen["source key"] = check_source_key(keyed)
            # 5. Rejects carry reasons.
            if bad_rows:
                mixed = make_project(base / "mixed", tables={"conformance_rows": rows + bad_rows},
                                     jobs={"job": (destination.name, settings, sql)})
                result = pipeline.run(mixed, "job", sleep=lambda s: None)
                assert result.counts.rejected >= 1, "bad rows were not rejected"
                with open_state(mixed.state_path("job")) as state:
                    reasons = state.rejects(result.run_id).column("reason").to_pylist()
                assert reasons and all(r and r.strip() for r in reasons), \
                    "a rejected event has no reason"
                seen["rejects"] = f"{len(reasons)} rejected with reasons"
            # 6. Retryable errors are retried.
            if emulator is None:
                return _check_empty(destination, settings, rows, base, sql, calls, seen)
            retry = make_project(base / "retry", tables={"conformance_rows": rows},
                                 jobs={"job": (destination.name, settings, sql)})
            emulator.inject(Fault(status=503, body={"error": "unavailable"}, times=1))
            waits: list[float] = []
            result = pipeline.run(retry, "job", sleep=waits.append)
            assert result.status == "succeeded" and waits, \
                f"a 503 was not retried ({result.status}: {result.error})"
            seen["retried"] = f"503 retried after {waits[0]:.2f}s"
            # 7. Secrets never printed, even when the API refuses them.
            auth = make_project(base / "auth", tables={"conformance_rows": rows},
                                jobs={"job": (destination.name, settings, sql)})
            emulator.inject(Fault(status=401, body={"error": "unauthorized"}, times=50))
            try:
                result = pipeline.run(auth, "job", sleep=lambda s: None)
                texts = [result.error or ""]
            except OfframpError as exc:
                texts = [str(exc)]
            emulator.clear_faults()
            texts += capture.lines
            for project in (good, auth):
                texts += [p.read_bytes().decode("latin-1") for p in project.home.rglob("*")
                          if p.is_file()]
            leaked = [s for s in secrets if any(s in t for t in texts)]
            assert not leaked, "a secret appeared in an error, a log or a state file"
            seen["secrets"] = f"{len(secrets)} secrets never shown"
            return _check_empty(destination, settings, rows, base, sql, calls, seen)
    finally:
        root_logger.removeHandler(capture)


def _shared_keys(project: Any) -> list[tuple[str, int]]:
    """Keys under which ``project``'s job shapes more than one event that is not rejected.
    (The events are shaped as the next run would see them: for a destination that
    declares unique keys, without the core's own duplicate check.)"""
    from connector.api.project import open_project

    with open_project(project.root).events("job") as events:
        shared = events.sql("SELECT event_key, count(*) AS n FROM events "
                            "WHERE reject_reason IS NULL GROUP BY event_key "
                            "HAVING count(*) > 1 ORDER BY event_key LIMIT 3")
    return list(zip(shared.column("event_key").to_pylist(), shared.column("n").to_pylist(),
                    strict=True))


def _check_empty(destination: Any, settings: dict[str, Any], rows: list[dict[str, Any]],
                 base: Path, sql: str, calls: Callable[[], int],
                 seen: dict[str, str]) -> dict[str, str]:
    """8. Empty input: a run with no rows succeeds and sends nothing."""
    from connector.run import pipeline

    empty = make_project(base / "empty", tables={"conformance_rows": rows},
                         jobs={"job": (destination.name, settings, sql + " WHERE false")})
    before = calls()
    result = pipeline.run(empty, "job", sleep=lambda s: None)
    assert result.status == "succeeded" and result.counts.events == 0, \
        f"empty input: {result.status} {result.error}"
    assert calls() == before, "empty input sent requests"
    seen["empty"] = "no events, no requests"
    return seen


