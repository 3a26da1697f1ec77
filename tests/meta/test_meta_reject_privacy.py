"""Reject reasons are stored in the state file and exported by ``offramp rejects``: they
never quote a customer value, even one written to the wrong column (an email as the
currency, the action source or the event name). Short values of the expected shape
(a 3-letter code, a standard-looking event name) are still shown: they say what to fix."""

from __future__ import annotations

import pytest

from tests.meta.conftest import rejected, row, shape_rows

EMAIL = "SOMEONE@EXAMPLE.NET"


@pytest.mark.parametrize("column", ["currency", "action_source", "event_name"])
def test_a_reason_names_the_column_never_the_value(tmp_path, column) -> None:
    rows = [row("o-1", **{column: EMAIL}), row("o-2", **{column: EMAIL.lower()})]
    # Custom event names are sent as they are: an event name is rejected (and named in
    # the reason) when routing by ``datasets`` has no dataset for it.
    routed = ({"dataset_id": None, "datasets": {"Purchase": ["1234567890"]}}
              if column == "event_name" else {})
    events = shape_rows(tmp_path, rows, **routed)
    for key in ("o-1", "o-2"):
        reason = rejected(events, f"-:{key}" if routed else key)
        assert column in reason and "(value not shown)" in reason, reason
        assert "@" not in reason and "someone" not in reason.lower(), reason


def test_mixed_currencies_never_quote_a_value(tmp_path) -> None:
    events = shape_rows(tmp_path, [row("o-1", currency="USD"), row("o-1", currency=EMAIL)])
    reason = rejected(events, "o-1")
    assert "currenc" in reason and "@" not in reason, reason


def test_a_code_of_the_right_shape_is_still_shown(tmp_path) -> None:
    events = shape_rows(tmp_path, [row("o-1", currency="XYZ")])
    assert rejected(events, "o-1") == "currency 'XYZ' is not an ISO 4217 code"
