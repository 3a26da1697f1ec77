"""Events mode is opt-in, and says what it is: a server-side pixel fire cannot be
attributed (IQM documents the pixel only as a browser tag), so a job must set
``allow_unattributed_pixel_fires = true``, and ``validate`` and ``run`` print a warning."""

from __future__ import annotations

import pydantic
import pytest

from plugins.iqm import IqmDestination, IqmSettings

ORDERS = ("SELECT order_id, order_datetime AS timestamp, item_revenue AS value "
          "FROM Unified_Itemized_Transactions WHERE item_quantity > 0")
BASE = {"mode": "events", "conversion_name": "Offline orders", "workspace_host": "app.iqm.test"}
WARNING = "warning: iqm events mode sends pixel fires, not attributed conversions"


def test_events_mode_without_the_opt_in_is_refused_with_what_to_set():
    with pytest.raises(pydantic.ValidationError) as info:
        IqmSettings(**BASE)
    text = str(info.value)
    assert "set allow_unattributed_pixel_fires = true" in text
    assert "cannot attribute it to an ad" in text and 'use mode = "assign"' in text
    with pytest.raises(pydantic.ValidationError, match="only applies to mode"):
        IqmSettings(**{**BASE, "mode": "assign"}, allow_unattributed_pixel_fires=True)


def test_only_events_mode_warns():
    events = IqmSettings(**BASE, allow_unattributed_pixel_fires=True)
    (line,) = IqmDestination.warnings(events)
    assert line.startswith(WARNING.removeprefix("warning: "))
    assert "Total Conversions" in line
    assert IqmDestination.warnings(IqmSettings(**{**BASE, "mode": "assign"})) == []


def test_validate_refuses_an_existing_events_job(project, cli_runner):
    project.write_job("fires", ORDERS, "iqm", **BASE)
    result = cli_runner("validate", "fires")
    assert result.exit_code == 1 and "Traceback" not in result.output + result.stderr
    assert "allow_unattributed_pixel_fires = true" in result.stderr


def test_validate_and_run_print_the_warning(project, cli_runner, emu, creds):
    project.write_job("fires", ORDERS, "iqm", **BASE, base_url=emu.url, max_age_days=36500,
                      allow_unattributed_pixel_fires=True)  # the test orders are from 2025
    checked = cli_runner("validate", "fires")
    assert checked.exit_code == 0 and WARNING in checked.stdout
    ran = cli_runner("run", "fires", "--quiet", env=creds)
    assert ran.exit_code == 0, ran.output
    assert WARNING in ran.stdout and "delivered 6" in ran.stdout
    assert len(emu.pixel_hits) == 6
    project.write_job("campaigns", "SELECT 1001 AS campaign_id", "iqm",
                      **{**BASE, "mode": "assign"}, base_url=emu.url)
    assert "warning" not in cli_runner("validate", "campaigns").stdout
