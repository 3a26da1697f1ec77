"""offramp's conformance suite (connector.testing.check_destination) against the Data
Manager emulator. The suite runs jobs on the real clock, so the emulator uses it too."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.testing import check_destination
from plugins.google.destination import GoogleDestination
from plugins.google.emulator import GoogleEmulator
from tests.google.destination_support import ACTION, ENV, settings_for


@pytest.mark.slow
def test_the_google_destination_passes_the_conformance_suite(tmp_path, waits) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    ago = now - dt.timedelta(hours=2)

    def line(order_id: str, **fields):
        return {"order_id": order_id, "timestamp": ago, "price": 12.5, "quantity": 1,
                "currency": "USD", "product_id": "sku-1", "email": "jane@example.com",
                "gclid": None, **fields}

    good = [line(f"o-{i}") for i in range(3)]
    bad = [line("too-old", timestamp=now - dt.timedelta(days=120)),
           line("no-identifier", email=None), line("return", quantity=-1)]
    with GoogleEmulator() as emulator:
        seen = check_destination(
            GoogleDestination, settings=settings_for(emulator), rows=good, bad_rows=bad,
            emulator=emulator, env=ENV,
            bad_settings={**settings_for(emulator), "operating_account_id": "12-34"},
            workdir=tmp_path)
        accepted = {e["transactionId"] for e in emulator.events(ACTION)}
    assert {"declared", "settings refused", "contract enforced", "delivered once",
            "rejects have reasons", "retried", "secrets never shown", "empty input",
            "unique keys", "source key", "rows counted", "no raw PII sent"} <= set(seen)
    assert {"o-0", "o-1", "o-2"} <= accepted
    assert not accepted & {"too-old", "no-identifier", "return"}
