"""The job's ``[settings]`` for Meta, and the column contract, as ``offramp validate``
reports them: each mistake is refused with what to do."""

from __future__ import annotations

import pydantic
import pytest

from connector.kit.errors import ValidationError
from connector.run import pipeline
from plugins.meta.settings import MetaSettings
from tests.meta.conftest import NOWHERE, row, settings_for

VALID = {"dataset_id": "1234567890"}


def test_defaults() -> None:
    s = MetaSettings.model_validate(VALID)
    assert (s.access_token_env, s.api_version, s.base_url) == \
        ("META_ACCESS_TOKEN", "v26.0", "https://graph.facebook.com")
    assert (s.hashing, s.limited_data_use, s.default_action_source) == \
        (True, False, "physical_store")
    assert (s.window_days, s.first_send_window_days, s.concurrency, s.timeout) == (7, 62, 4, 30.0)
    assert s.test_event_code is None and s.upload_tag is None and s.default_country is None


@pytest.mark.parametrize("settings, message", [
    ({}, "set dataset_id (or datasets"),
    ({"dataset_id": "my-dataset"}, "must be the numeric id from Events Manager"),
    ({"datasets": {"Purchase": ["12"]}}, "'12' must be the numeric id"),
    ({**VALID, "event_names": {"Sale": " "}}, "event_names maps 'Sale' to a blank event name"),
    ({**VALID, "event_names": {"Sale": "S" * 51}},
     "event_names maps 'Sale' to 'SSSSSSSSSSSSSSSSSSSS'..., longer than the 50 characters"),
    ({**VALID, "datasets": {"Order Completed": ["2222222222"]}},
     "datasets maps 'Order Completed', which event_names renames, so no event would ever "
     "match it; write 'Purchase'"),
    ({**VALID, "datasets": {"": ["2222222222"]}}, "datasets maps a blank event name"),
    ({**VALID, "datasets": {"S" * 51: ["2222222222"]}}, "longer than the 50 characters"),
    ({**VALID, "default_action_source": "store"}, "default_action_source must be one of"),
    ({**VALID, "limited_data_use": True, "ldu_country": 1, "ldu_state": 5},
     "ldu_country/ldu_state 0/0 (Meta geolocates) or 1/1000 (California)"),
    ({**VALID, "api_version": "26"}, "api_version looks like v26.0"),
    ({**VALID, "default_country": "USA"}, "'USA' is not an ISO alpha-2"),
    ({**VALID, "default_country": "XX"}, "'XX' is not an ISO alpha-2"),
    ({**VALID, "content_types": {"Shoes": "shoe"}}, "product or product_group"),
    ({**VALID, "window_days": 0}, "greater than or equal to 1"),
    ({**VALID, "first_send_window_days": 63}, "less than or equal to 62"),
    ({**VALID, "concurrency": 0}, "greater than or equal to 1"),
    ({**VALID, "timeout": 0}, "a finite number above 0"),
    ({**VALID, "datset_id": "1234567890"}, "Extra inputs are not permitted"),
])
def test_invalid_settings_say_what_to_fix(settings, message) -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        MetaSettings.model_validate(settings)
    assert message in str(info.value)


@pytest.mark.parametrize("settings", [
    {"datasets": {"Purchase": ["1111111111"], "Lead": ["2222222222", "3333333333"]}},
    {**VALID, "event_names": {"In-Store Sale": "Purchase"}, "default_country": "gb"},
    {**VALID, "event_names": {"Sale": "Store Visit"}, "datasets": {"Store Visit": ["2222222222"]}},
    {**VALID, "datasets": {"Sale": ["2222222222"], "S" * 50: ["2222222222"]}},
    {**VALID, "limited_data_use": True, "ldu_country": 1, "ldu_state": 1000},
    {**VALID, "content_types": {"Shoes": "product_group"}, "hashing": False},
])
def test_valid_settings(settings) -> None:
    MetaSettings.model_validate(settings)


def test_a_dataset_listed_twice_is_one_dataset() -> None:
    s = MetaSettings.model_validate({"datasets": {"Purchase": ["1111111111", "2222222222",
                                                              "1111111111"]}})
    assert s.datasets == {"Purchase": ["1111111111", "2222222222"]}


def validate(meta_project, sql: str, **settings) -> list[str]:
    meta_project.write_rows([row(email_address="jane@example.com", amount=1.0)])
    meta_project.write_job(settings_for(base_url=NOWHERE, **settings), sql)
    with pytest.raises(ValidationError) as info:
        pipeline.validate(meta_project.project, meta_project.job)
    return info.value.problems


def test_validate_names_the_setting_and_the_file(meta_project) -> None:
    [problem] = validate(meta_project, "SELECT * FROM orders", dataset_id="abc")
    assert problem.startswith("setting `dataset_id` in meta_job.sql:")


def test_a_query_without_email_or_phone_is_refused_with_a_suggestion(meta_project) -> None:
    problems = validate(meta_project, "SELECT * EXCLUDE (email, phone) FROM orders")
    assert any("column `email` or `phone` is missing" in p and "email_address" in p
               for p in problems)


def test_each_required_column_is_checked(meta_project) -> None:
    sql = "SELECT email, phone, order_id, quantity FROM orders"
    problems = " ".join(validate(meta_project, sql))
    for column in ("external_id", "timestamp", "price", "currency"):
        assert f"column `{column}` is missing" in problems
    assert "column `order_id` is missing" not in problems


def test_column_types_are_checked(meta_project) -> None:
    sql = ("SELECT * REPLACE (price > 0 AS price, "
           "CAST(timestamp AS VARCHAR) AS timestamp) FROM orders")
    problems = " ".join(validate(meta_project, sql))
    assert "column `price` is BOOLEAN" in problems
    assert "column `timestamp` is VARCHAR" in problems
