"""offramp's conformance suite (connector.testing.check_destination) against the Meta
emulator. The suite runs jobs on the real clock, so the emulator uses it too."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.testing import check_destination
from plugins.meta.destination import MetaDestination
from plugins.meta.emulator import MetaEmulator
from tests.meta.conftest import DATASET, TOKEN, row


@pytest.mark.slow
def test_the_meta_destination_passes_the_conformance_suite(tmp_path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    good = [row(f"o-{i}", timestamp=now - dt.timedelta(hours=2)) for i in range(3)]
    bad = [row("too-old", timestamp=now - dt.timedelta(days=90)),
           row("no-contact", email=None, phone=None, timestamp=now - dt.timedelta(hours=2)),
           row("return", quantity=-1, timestamp=now - dt.timedelta(hours=2))]
    with MetaEmulator(tokens={TOKEN}) as emulator:
        seen = check_destination(
            MetaDestination,
            settings={"dataset_id": DATASET, "base_url": emulator.url},
            rows=good, bad_rows=bad, emulator=emulator,
            env={"META_ACCESS_TOKEN": TOKEN},
            bad_settings={"dataset_id": "not-a-number"},
            workdir=tmp_path)
        accepted = {e["custom_data"]["order_id"] for e in emulator.events()}
    assert {"declared", "settings refused", "contract enforced", "delivered once",
            "rejects have reasons", "retried", "secrets never shown", "empty input",
            "unique keys", "source key", "rows counted", "no raw PII sent"} <= set(seen)
    assert seen["source key"].startswith("6 keys")
    assert {"o-0", "o-1", "o-2"} <= accepted
    assert not accepted & {"too-old", "no-contact", "return"}
