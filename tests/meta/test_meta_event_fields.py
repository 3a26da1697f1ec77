"""Event names, action sources, dataset routing, content types, Limited Data Use,
``test_event_code`` and ``upload_tag``, through the pipeline to the emulator."""

from __future__ import annotations

import pytest

from plugins.meta.settings import ACTION_SOURCES, DEFAULT_EVENT_NAMES
from tests.meta.conftest import DATASET, deliver_rows, rejected, row, sent, shape_rows

D1, D2, D3 = "1111111111", "2222222222", "3333333333"
WEB = {"client_user_agent": "Mozilla/5.0", "event_source_url": "https://shop.example.com/c",
       "event_id": "web-1"}

ROWS = [
    row("default"),
    row("order-completed", event_name="Order Completed"),
    row("custom-mapped", event_name="In-Store Sale"),
    row("lead", event_name="Lead"),
    row("signup", event_name="Signup"),
    row("add-to-cart", event_name="Product Added"),
    row("not-standard", event_name="Bought Stuff"),
    row("custom-alias", event_name="Visite en magasin"),
    row("custom-unrouted", event_name="Window Shopping"),
    row("custom-too-long", event_name="Store Visit " + "x" * 39),
    row("custom-longest", event_name="Store Visit " + "x" * 38),
    row("shoes", category="Shoes"),
    row("hats", category="Hats"),
    row("source-upper", action_source=" PHYSICAL_STORE "),
    row("source-blank", action_source="  "),
    row("bad-source", action_source="in_store"),
    row("two-sources", action_source="email"),
    row("two-sources", action_source="phone_call", product_id="sku-2"),
    row("two-names", event_name="Lead"),
    row("two-names", event_name="Purchase", product_id="sku-2"),
    row("same-name-twice", event_name="Order Completed"),
    row("same-name-twice", event_name="Purchase", product_id="sku-2"),
    row("website-ok", action_source="website", **WEB),
    row("website-no-ua", action_source="website", **{**WEB, "client_user_agent": None}),
    row("website-no-url", action_source="website", **{**WEB, "event_source_url": " "}),
    row("website-no-event-id", action_source="website", **{**WEB, "event_id": None}),
    *(row(f"source-{source}", action_source=source)
      for source in ACTION_SOURCES if source != "website"),
]
SETTINGS = {
    "dataset_id": None,
    "datasets": {"Purchase": [D1], "Lead": [D2, D3], "Bought Stuff": [D3],
                 "Store Visit": [D2], "Store Visit " + "x" * 38: [D1]},
    "event_names": {"In-Store Sale": "Purchase", "Signup": "Lead",
                    "Visite en magasin": "Store Visit"},
    "content_types": {"Shoes": "product_group"},
    "limited_data_use": True, "ldu_country": 1, "ldu_state": 1000,
    "test_event_code": "TEST12345",
    "upload_tag": "store-sales-2026-03",
}


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory):
    return deliver_rows(tmp_path_factory.mktemp("fields"), ROWS, **SETTINGS)


@pytest.fixture(scope="module")
def rejects(delivered) -> dict[str, str]:
    return {r["event_key"]: r["reason"] for r in delivered.project.rejects()}


def test_nothing_invalid_reached_meta(delivered) -> None:
    assert delivered.summary.status == "succeeded"
    assert all("error" not in request for request in delivered.requests)
    assert delivered.summary.counts.failed == 0


@pytest.mark.parametrize("order, name", [
    ("default", "Purchase"), ("order-completed", "Purchase"), ("custom-mapped", "Purchase"),
])
def test_event_names_default_and_mapped_to_purchase(delivered, order, name) -> None:
    assert delivered.datasets_of(order) == [D1]
    assert delivered.by_order(D1)[order]["event_name"] == name


@pytest.mark.parametrize("order", ["lead", "signup"])
def test_an_event_name_mapped_to_two_datasets_goes_to_both(delivered, order) -> None:
    assert delivered.datasets_of(order) == [D2, D3]
    assert delivered.by_order(D2)[order]["event_name"] == "Lead"
    assert delivered.by_order(D3)[order] == delivered.by_order(D2)[order]


def test_ledger_keys_carry_the_dataset(delivered) -> None:
    delivered_keys = {e["event_key"] for e in delivered.project.ledger()
                      if e["status"] == "delivered"}
    assert {f"{D2}:lead", f"{D3}:lead", f"{D1}:default"} <= delivered_keys


def test_a_standard_event_without_a_dataset_is_rejected(rejects) -> None:
    assert rejects["-:add-to-cart"] == \
        "no dataset mapped for event_name 'AddToCart': add it to [settings] datasets"


def test_a_custom_event_name_is_sent_as_it_is_to_its_dataset(delivered) -> None:
    """Meta accepts custom event names: sent as written, routed by ``datasets``."""
    assert delivered.datasets_of("not-standard") == [D3]
    assert delivered.by_order(D3)["not-standard"]["event_name"] == "Bought Stuff"
    assert delivered.by_order(D1)["custom-longest"]["event_name"] == "Store Visit " + "x" * 38


def test_an_alias_maps_to_a_custom_event_name(delivered) -> None:
    assert delivered.datasets_of("custom-alias") == [D2]
    assert delivered.by_order(D2)["custom-alias"]["event_name"] == "Store Visit"


def test_a_custom_event_name_without_a_dataset_is_rejected(rejects) -> None:
    assert rejects["-:custom-unrouted"] == (
        "no dataset mapped for event_name 'Window Shopping': add it to [settings] datasets")


def test_an_event_name_longer_than_meta_accepts_is_rejected(rejects) -> None:
    assert rejects["-:custom-too-long"] == (
        "event_name is longer than the 50 characters Meta accepts: shorten it or map it "
        "with [settings] event_names")


def test_content_type_comes_from_the_category_mapping(delivered) -> None:
    orders = delivered.by_order(D1)
    assert orders["shoes"]["custom_data"]["content_type"] == "product_group"
    assert orders["hats"]["custom_data"]["content_type"] == "product"


def test_limited_data_use_fields_are_on_every_event(delivered) -> None:
    for accepted in delivered.accepted:
        event = accepted["event"]
        assert event["data_processing_options"] == ["LDU"]
        assert event["data_processing_options_country"] == 1
        assert event["data_processing_options_state"] == 1000


def test_test_event_code_and_upload_tag_reach_meta(delivered) -> None:
    assert {r["dataset_id"] for r in delivered.requests} == {D1, D2, D3}
    for request in delivered.requests:
        assert request["test_event_code"] == "TEST12345"
        assert request["upload_tag"] == "store-sales-2026-03"


@pytest.mark.parametrize("source", [s for s in ACTION_SOURCES if s != "website"])
def test_each_valid_action_source_is_sent(delivered, source) -> None:
    assert delivered.by_order(D1)[f"source-{source}"]["action_source"] == source


def test_action_source_is_trimmed_lowercased_and_defaults(delivered) -> None:
    orders = delivered.by_order(D1)
    assert orders["source-upper"]["action_source"] == "physical_store"
    assert orders["source-blank"]["action_source"] == "physical_store"


def test_website_events_with_what_meta_needs_are_sent(delivered) -> None:
    event = delivered.by_order(D1)["website-ok"]
    assert event["action_source"] == "website"
    assert event["event_source_url"] == WEB["event_source_url"]
    assert event["user_data"]["client_user_agent"] == WEB["client_user_agent"]
    assert event["event_id"] == "web-1"


@pytest.mark.parametrize("order", ["website-no-ua", "website-no-url"])
def test_website_events_without_ua_or_url_are_rejected(rejects, order) -> None:
    assert rejects[f"{D1}:{order}"] == \
        "website events need client_user_agent and event_source_url"


def test_a_website_event_without_an_event_id_column_is_sent_with_the_order_id(delivered) -> None:
    """Meta requires client_user_agent and event_source_url of a website event; its
    event_id defaults to the order id."""
    event = delivered.by_order(D1)["website-no-event-id"]
    assert event["event_id"] == "website-no-event-id"
    assert event["event_source_url"] == WEB["event_source_url"]


def test_an_invalid_action_source_is_rejected(rejects) -> None:
    assert rejects[f"{D1}:bad-source"] == (
        "action_source 'in_store' is not one of " + ", ".join(ACTION_SOURCES))


def test_one_order_with_two_action_sources_is_rejected(rejects) -> None:
    assert rejects[f"{D1}:two-sources"] == "more than one action_source in one order"


def test_one_order_with_two_event_names_is_rejected(delivered, rejects) -> None:
    assert rejects[f"{D2}:two-names"] == "more than one event_name in one order"
    assert rejects[f"{D3}:two-names"] == "more than one event_name in one order"
    # Two spellings of one standard event are one event name.
    assert len(delivered.by_order(D1)["same-name-twice"]["custom_data"]["contents"]) == 2


def test_rejected_events_were_never_sent(delivered, rejects) -> None:
    sent_orders = {a["event"]["custom_data"]["order_id"] for a in delivered.accepted}
    rejected_orders = {key.split(":", 1)[1] for key in rejects}
    assert rejected_orders == {"add-to-cart", "custom-unrouted", "custom-too-long",
                               "bad-source", "two-sources", "website-no-ua", "website-no-url",
                               "two-names"}
    assert not sent_orders & rejected_orders


# -- shaping-only checks -------------------------------------------------------------------
@pytest.fixture(scope="module")
def rudderstack_events(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    rows = [row(name, event_name=name) for name in DEFAULT_EVENT_NAMES]
    return shape_rows(tmp_path_factory.mktemp("rudderstack"), rows)


@pytest.mark.parametrize("custom, standard", sorted(DEFAULT_EVENT_NAMES.items()))
def test_rudderstack_default_event_names(rudderstack_events, custom, standard) -> None:
    assert sent(rudderstack_events, custom)["event_name"] == standard


def test_dataset_id_catches_event_names_the_mapping_does_not_name(tmp_path) -> None:
    rows = [row("purchase"), row("lead", event_name="Lead"), row("other", event_name="Other")]
    events = shape_rows(tmp_path, rows, datasets={"Lead": [D2]})
    assert events[f"{DATASET}:purchase"]["route"] == DATASET
    assert events[f"{DATASET}:other"]["route"] == DATASET
    assert events[f"{D2}:lead"]["route"] == D2
    assert f"{DATASET}:lead" not in events


def test_default_action_source_setting(tmp_path) -> None:
    events = shape_rows(tmp_path, [row("a"), row("b", action_source="email")],
                        default_action_source="other")
    assert sent(events, "a")["action_source"] == "other"
    assert sent(events, "b")["action_source"] == "email"


def test_ldu_with_meta_geolocating(tmp_path) -> None:
    payload = sent(shape_rows(tmp_path, [row("a")], limited_data_use=True), "a")
    assert (payload["data_processing_options"], payload["data_processing_options_country"],
            payload["data_processing_options_state"]) == (["LDU"], 0, 0)


def test_no_event_name_column_and_an_unmapped_default(tmp_path) -> None:
    events = shape_rows(tmp_path, [row("a")], dataset_id=None, datasets={"Lead": [D2]})
    assert rejected(events, "-:a") == \
        "no dataset mapped for event_name 'Purchase': add it to [settings] datasets"
