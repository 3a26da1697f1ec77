"""``offramp`` with probes, for the reliability tests' subprocesses.

Runs the real CLI (``connector.cli.app.main``). When ``OFFRAMP_TEST_NOTES`` names a
file, it appends one line per milestone so that a test can send a signal at an
exact point: ``fingerprint`` when the pass over the rows that fingerprints each key
starts (:mod:`connector.run.incremental`), ``stream`` when the shaping query starts,
``recording <status> <n>`` when a ledger write starts (the request's answer is in hand),
``record <status> <n>`` after each ledger commit (a line per status in the write, each),
``sigint`` when offramp's SIGINT handler is called. The probes only observe; they change
nothing.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from connector.engines import warehouse
from connector.run import incremental  # noqa: E402
from connector.state import store as state


def _note(text: str) -> None:
    with open(os.environ["OFFRAMP_TEST_NOTES"], "a", encoding="utf-8") as fh:
        fh.write(text + "\n")


def _install() -> None:
    stream, record = warehouse.Engine.stream, state.State.record_outcomes
    fingerprint = incremental.Incremental.start

    def probed_fingerprint(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        _note("fingerprint")
        return fingerprint(self, *args, **kwargs)

    def probed_stream(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        _note("stream")
        return stream(self, *args, **kwargs)

    def probed_record(self, run_id, outcomes):  # type: ignore[no-untyped-def]
        statuses = outcomes.column("status").to_pylist()
        counts = {status: statuses.count(status) for status in dict.fromkeys(statuses)}
        for status, n in counts.items():
            _note(f"recording {status} {n}")
        record(self, run_id, outcomes)
        for status, n in counts.items():
            _note(f"record {status} {n}")

    install = signal.signal

    def probed_signal(signum, handler):  # type: ignore[no-untyped-def]
        if signum in (signal.SIGINT, signal.SIGTERM) and callable(handler):
            inner = handler

            def handler(sig, frame):  # type: ignore[no-untyped-def]
                _note("sigint")
                return inner(sig, frame)
        return install(signum, handler)

    signal.signal = probed_signal  # type: ignore[assignment]
    warehouse.Engine.stream = probed_stream  # type: ignore[method-assign]
    incremental.Incremental.start = probed_fingerprint  # type: ignore[method-assign]
    state.State.record_outcomes = probed_record  # type: ignore[method-assign]


if __name__ == "__main__":
    if os.environ.get("OFFRAMP_TEST_NOTES"):
        _install()
    from connector.cli import main

    main()
