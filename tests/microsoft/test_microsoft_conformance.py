"""offramp's conformance suite (connector.testing.check_destination) against the emulator."""

from __future__ import annotations

import datetime as dt

import pytest

from connector.testing import check_destination
from plugins.microsoft.destination import MicrosoftAdsDestination
from plugins.microsoft.emulator import ACCESS_TOKEN, ACCOUNT_ID, CUSTOMER_ID, DEVELOPER_TOKEN


@pytest.mark.slow
def test_the_destination_passes_the_conformance_suite(emulator, clock, tmp_path):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    clock.now = now  # the suite runs jobs on the real clock
    good = [{"timestamp": now - dt.timedelta(days=1), "microsoft_click_id": f"clk{i}",
             "email": None, "order_id": f"o{i}", "price": 10.5, "quantity": 2}
            for i in range(3)]
    bad = [{"timestamp": now - dt.timedelta(days=200), "microsoft_click_id": "old",
            "email": None, "order_id": "o-old", "price": 1.0, "quantity": 1},
           {"timestamp": now - dt.timedelta(days=1), "microsoft_click_id": None,
            "email": "not an email", "order_id": "o-none", "price": 1.0, "quantity": 1}]
    seen = check_destination(
        MicrosoftAdsDestination,
        settings={"customer_id": CUSTOMER_ID, "account_id": ACCOUNT_ID,
                  "base_url": emulator.url, "conversion_name": "Store Sale", "currency": "USD"},
        rows=good, bad_rows=bad, emulator=emulator,
        env={"MSADS_DEVELOPER_TOKEN": DEVELOPER_TOKEN, "MSADS_ACCESS_TOKEN": ACCESS_TOKEN},
        bad_settings={"customer_id": CUSTOMER_ID, "account_id": "not-a-number"},
        workdir=tmp_path)
    assert {"declared", "settings refused", "contract enforced", "delivered once",
            "rejects have reasons", "retried", "secrets never shown", "empty input"} <= set(seen)
    assert len(emulator.accepted()) >= 3
