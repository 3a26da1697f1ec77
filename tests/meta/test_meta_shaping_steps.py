"""The Meta shaping query, composed from named steps, is the text it always was.

Incremental runs fingerprint the shaping SQL's text: a query that differs by one space
would make every user's next run shape every order again. So the steps of
``plugins/meta/shaping.py`` must compose, character for character, the text that the
single function before them wrote (frozen in ``frozen_shaping.py``), for every
combination of settings and columns below: the clock, first sends, routing by event
name, event-name maps (quotes included), content types, value columns, Limited Data
Use, hashing off, default countries and action sources, column names in any case, and
the column types that change the SQL (fractional identifiers, epoch and date times,
numeric postal codes and birthdates). Also: the module docstring lists the steps in
their order, each function is small and documented, and the reject rules are the
``CASE`` in their order.
"""

from __future__ import annotations

import datetime as dt
import difflib
import inspect
import itertools
import re
from typing import Any

import pytest

from connector import ConfigError
from plugins.meta import shaping, shaping_rejects
from plugins.meta.columns import PROFILE
from plugins.meta.settings import MetaSettings
from tests.meta import frozen_shaping

DATASET = "1234567890"
NOW = dt.datetime(2026, 3, 15, 12, 0, tzinfo=dt.UTC)

#: Settings, by name: each is one job's ``[settings]`` (a value column that the columns
#: do not have is refused by both implementations, with the same message).
SETTINGS: dict[str, dict[str, Any]] = {
    "defaults": {"dataset_id": DATASET},
    "country-us-window-30": {"dataset_id": DATASET, "default_country": "US", "window_days": 30},
    "country-gb-first-window-10": {"dataset_id": DATASET, "default_country": "gb",
                                   "first_send_window_days": 10, "window_days": 1},
    "routed-with-fallback": {"datasets": {"Purchase": ["11111", "22222"]}, "dataset_id": "33333"},
    "routed-only": {"datasets": {"Purchase": ["11111"], "Lead": ["22222", "33333"]}},
    "routed-renamed": {"datasets": {"Lead": ["11111"]}, "event_names": {"Purchase": "Lead"}},
    "no-hashing-ldu-california": {"dataset_id": DATASET, "hashing": False,
                                  "limited_data_use": True, "ldu_country": 1, "ldu_state": 1000},
    "ldu-geolocated": {"dataset_id": DATASET, "limited_data_use": True},
    "content-types": {"dataset_id": DATASET, "content_types": {"SKU": "product_group",
                                                               "Shoe's": "product"},
                      "default_action_source": "other"},
    "event-names-quoted": {"dataset_id": DATASET,
                           "event_names": {"Dance": "Other", "Order's Done": "Purchase"}},
    "purchase-renamed": {"dataset_id": DATASET, "event_names": {"Purchase": "Lead"},
                         "default_action_source": "system_generated"},
    "value-column": {"dataset_id": DATASET, "value_column": "revenue"},
    "value-column-any-case": {"dataset_id": DATASET, "value_column": "VALUE"},
    "website": {"dataset_id": DATASET, "default_action_source": "website", "hashing": False},
    "everything": {"datasets": {"Purchase": ["11111"], "Other": ["22222"]},
                   "dataset_id": "44444", "event_names": {"Dance": "Other"},
                   "content_types": {"Toys": "product_group"}, "value_column": "value",
                   "limited_data_use": True, "ldu_country": 1, "ldu_state": 1000,
                   "default_country": "DE", "default_action_source": "app",
                   "window_days": 62, "first_send_window_days": 1},
}

_REQUIRED = {"order_id": "VARCHAR", "quantity": "INTEGER", "price": "DOUBLE",
             "currency": "VARCHAR", "timestamp": "TIMESTAMP", "product_id": "VARCHAR"}
#: Column sets, by name: the query's columns and their DuckDB types, as DESCRIBE gives them.
COLUMNS: dict[str, dict[str, str]] = {
    "minimal": {**_REQUIRED, "email": "VARCHAR"},
    "numbers": {"order_id": "DOUBLE", "quantity": "DOUBLE", "price": "DECIMAL(10,2)",
                "currency": "VARCHAR", "timestamp": "BIGINT", "product_id": "BIGINT",
                "phone": "DOUBLE", "postal": "INTEGER", "country": "VARCHAR",
                "external_id": "DECIMAL(18,0)", "event_id": "DOUBLE", "birthdate": "DOUBLE"},
    "full": {**_REQUIRED, **dict.fromkeys(PROFILE, "VARCHAR"), "event_name": "VARCHAR",
             "action_source": "VARCHAR", "event_id": "VARCHAR", "event_source_url": "VARCHAR",
             "brand": "VARCHAR", "category": "VARCHAR", "value": "DOUBLE", "revenue": "DOUBLE",
             "timestamp": "TIMESTAMP WITH TIME ZONE", "birthdate": "DATE"},
    "any-case": {"Order_ID": "VARCHAR", "QUANTITY": "BIGINT", "Price": "FLOAT",
                 "Currency": "VARCHAR", "TimeStamp": "DATE", "Product_Id": "VARCHAR",
                 "EMAIL": "VARCHAR", "Value": "DECIMAL(12,2)", "Birthdate": "TIMESTAMP",
                 "Postal": "VARCHAR", "Event_Name": "VARCHAR", "Category": "VARCHAR"},
    "text-times": {**_REQUIRED, "timestamp": "VARCHAR", "birthdate": "VARCHAR",
                   "postal": "UBIGINT", "email": "VARCHAR", "client_user_agent": "VARCHAR",
                   "fbc": "VARCHAR", "fbp": "VARCHAR", "madid": "VARCHAR",
                   "action_source": "VARCHAR", "event_source_url": "VARCHAR",
                   "revenue": "DECIMAL(18,3)"},
    "nanosecond-times": {**_REQUIRED, "timestamp": "TIMESTAMP_NS", "phone": "VARCHAR",
                         "state": "VARCHAR", "city": "VARCHAR", "brand": "VARCHAR"},
    "contact-only": {"email": "VARCHAR"},
}

#: (the run's clock, first send), by name.
CLOCKS: dict[str, tuple[dt.datetime, bool]] = {
    "first-send": (NOW, True),
    "later-send": (NOW, False),
    "odd-clock": (dt.datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC), True),
}

SOURCES = ("(SELECT * FROM orders)", "job_rows")


def _shaped(shape_sql, *args: Any) -> str | tuple[str, str]:
    """The query's text, or the error it raises (its type and message)."""
    try:
        return shape_sql(*args)
    except ConfigError as e:
        return type(e).__name__, str(e)


def _differ(old: str, new: str) -> str:
    return "\n".join(difflib.unified_diff(old.splitlines(), new.splitlines(), "frozen",
                                          "steps", lineterm="", n=1))


@pytest.mark.parametrize("clock", CLOCKS)
@pytest.mark.parametrize("columns", COLUMNS)
@pytest.mark.parametrize("settings", SETTINGS)
def test_the_steps_compose_the_frozen_text(settings: str, columns: str, clock: str) -> None:
    s = MetaSettings(**SETTINGS[settings])
    now, first_send = CLOCKS[clock]
    for source in SOURCES:
        args = (source, COLUMNS[columns], s, now, first_send)
        old, new = _shaped(frozen_shaping.shape_sql, *args), _shaped(shaping.shape_sql, *args)
        if isinstance(old, str) and isinstance(new, str):
            assert new == old, _differ(old, new)
        assert new == old


def test_the_cases_reach_every_branch() -> None:
    """The cases above include refused value columns and accepted ones, routing and not,
    hashing and not: the comparison covers the branches of the text, not only defaults."""
    outcomes = [_shaped(frozen_shaping.shape_sql, "t", COLUMNS[c], MetaSettings(**SETTINGS[s]),
                        NOW, True) for s, c in itertools.product(SETTINGS, COLUMNS)]
    texts = [o for o in outcomes if isinstance(o, str)]
    assert len(texts) < len(outcomes)  # some value columns are refused
    assert any("LEFT JOIN routes r" in t for t in texts)
    assert any("CROSS JOIN routes r" in t for t in texts)
    assert any("round(min(row_value), 2)" in t for t in texts)
    assert any("data_processing_options" in t for t in texts)
    assert any("CASE o.category WHEN" in t for t in texts)
    assert len(set(texts)) > len(texts) * 0.9


def test_the_docstring_lists_the_steps_in_order() -> None:
    """The module docstring documents the query step by step (``:func:`step```, one
    paragraph each): the steps it lists are :data:`STEPS`, in the same order."""
    listed = re.findall(r"^:func:`(\w+)`", shaping.__doc__ or "", flags=re.MULTILINE)
    assert listed == [step.__name__ for step in shaping.STEPS]


STEP_MODULES = ["shaping", "shaping_context", "shaping_rows", "shaping_users",
                "shaping_events", "shaping_rejects"]


@pytest.mark.parametrize("module", STEP_MODULES)
def test_each_function_is_small_and_says_what_it_does(module: str) -> None:
    """One function per step (and per reject rule), each with a docstring and well
    under 40 lines, so that the query reads step by step."""
    mod = __import__(f"plugins.meta.{module}", fromlist=["_"])
    functions = [f for _, f in inspect.getmembers(mod, inspect.isfunction)]
    functions += [f for _, c in inspect.getmembers(mod, inspect.isclass)
                  for f in vars(c).values() if inspect.isfunction(f)]
    functions = [f for f in functions if f.__code__.co_filename == mod.__file__]
    assert functions
    for f in functions:
        assert inspect.getdoc(f), f"{module}.{f.__qualname__} has no docstring"
        assert len(inspect.getsourcelines(f)[0]) < 40, f"{module}.{f.__qualname__} is long"


def test_the_reject_rules_are_the_case_in_order() -> None:
    """``reject_reason`` is a ``CASE`` of the :data:`REJECTS`, in their order (the value
    rules are two, with a value column)."""
    s = MetaSettings(**SETTINGS["value-column"])
    ctx = shaping.context("t", COLUMNS["full"], s, NOW, True)
    case = shaping_rejects.reject_reason(ctx)
    made = [rule(ctx) for rule in shaping_rejects.REJECTS]
    rules = [r for m in made for r in (m if isinstance(m, tuple) else (m,))]
    assert len(rules) == len(shaping_rejects.REJECTS) + 1
    at = [case.find(rule.sql()) for rule in rules]
    assert -1 not in at and at == sorted(at)
    assert case.startswith("CASE\n") and case.endswith("END AS reject_reason")
