"""Settings of the Meta destination (a job's ``[settings]`` table)."""

from __future__ import annotations

import re

import pydantic

from connector.kit import BaseUrl, Seconds, Settings, pii

#: Meta's standard events, plus Other (offline-events page; Amperity's list is a subset).
STANDARD_EVENTS = (
    "AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact",
    "CustomizeProduct", "Donate", "FindLocation", "InitiateCheckout", "Lead", "Other",
    "Purchase", "Schedule", "Search", "StartTrial", "SubmitApplication", "Subscribe",
    "ViewContent")
#: The longest event name Meta accepts: custom event names are at most 50 characters
#: (Meta Pixel reference, "Custom events"); the standard names are shorter.
MAX_EVENT_NAME = 50
#: The nine action_source values Meta accepts (server-event parameters page).
ACTION_SOURCES = ("app", "business_messaging", "chat", "email", "other", "phone_call",
                  "physical_store", "system_generated", "website")
#: RudderStack's built-in mapping of e-commerce spec names to standard events.
DEFAULT_EVENT_NAMES = {
    "Order Completed": "Purchase", "Product Added": "AddToCart",
    "Checkout Started": "InitiateCheckout", "Products Searched": "Search",
    "Product Viewed": "ViewContent", "Product List Viewed": "ViewContent",
    "Payment Info Entered": "AddPaymentInfo", "Product Added to Wishlist": "AddToWishlist",
}


class MetaSettings(Settings):
    dataset_id: str | None = None
    """The dataset (formerly offline event set) that receives events."""
    event_names: dict[str, str] = {}
    """Event name in the rows -> the name sent: a standard event or a custom one (added
    to RudderStack's defaults)."""
    datasets: dict[str, list[str]] = {}
    """Event name (as sent: standard or custom) -> dataset ids, to send each event name to
    its own datasets."""
    access_token_env: str = "META_ACCESS_TOKEN"
    """Environment variable holding the system-user access token."""
    api_version: str = "v26.0"
    base_url: BaseUrl = "https://graph.facebook.com"
    test_event_code: str | None = None
    """Shows events in Events Manager's Test Events tab. They are still processed."""
    upload_tag: str | None = None
    content_types: dict[str, str] = {}
    """Category -> content_type (``product`` or ``product_group``); default ``product``."""
    value_column: str | None = None
    """Use this column as the order's value instead of sum(price x quantity)."""
    limited_data_use: bool = False
    ldu_country: int = 0
    ldu_state: int = 0
    hashing: bool = True
    """Off for warehouses that already hold SHA-256 values: they are sent as they are."""
    default_country: str | None = None
    """ISO alpha-2 country for phone numbers and addresses of rows without a country."""
    default_action_source: str = "physical_store"
    window_days: int = pydantic.Field(7, ge=1, le=62)
    first_send_window_days: int = pydantic.Field(62, ge=1, le=62)
    """For physical_store events on a job's first send (Amperity's rule)."""
    timeout: Seconds = 30.0
    concurrency: int = pydantic.Field(4, ge=1, le=32)

    # Field validators, so that `offramp validate` names the setting at fault.
    @pydantic.field_validator("dataset_id")
    @classmethod
    def _dataset_id(cls, value: str | None) -> str | None:
        if value is not None:
            _check_dataset(value)
        return value

    @pydantic.field_validator("event_names")
    @classmethod
    def _event_names(cls, value: dict[str, str]) -> dict[str, str]:
        for alias, name in value.items():
            _check_event_name(name, f"event_names maps {alias!r} to")
        return value

    @pydantic.field_validator("datasets")
    @classmethod
    def _datasets(cls, value: dict[str, list[str]],
                  info: pydantic.ValidationInfo) -> dict[str, list[str]]:
        names = {**DEFAULT_EVENT_NAMES, **info.data.get("event_names", {})}
        for name, ids in value.items():
            _check_event_name(name, "datasets maps")
            if name not in STANDARD_EVENTS and name in names and names[name] != name:
                raise ValueError(f"datasets maps {name!r}, which event_names renames, so no "
                                 f"event would ever match it; write {names[name]!r}, the "
                                 "event it maps to")
            for dataset in ids:
                _check_dataset(dataset)
        # A dataset listed twice is one dataset: one event each, not two under one key.
        return {name: list(dict.fromkeys(ids)) for name, ids in value.items()}

    @pydantic.field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if not re.fullmatch(r"v\d+\.\d+", value):
            raise ValueError("api_version looks like v26.0")
        return value

    @pydantic.field_validator("content_types")
    @classmethod
    def _content_types(cls, value: dict[str, str]) -> dict[str, str]:
        for content_type in value.values():
            if content_type not in ("product", "product_group"):
                raise ValueError("content_types map categories to product or product_group")
        return value

    @pydantic.field_validator("default_country")
    @classmethod
    def _default_country(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 2 or pii.calling_code(value) is None):
            raise ValueError(f"default_country {value!r} is not an ISO alpha-2 country code "
                             "such as US")
        return value

    @pydantic.field_validator("default_action_source")
    @classmethod
    def _default_action_source(cls, value: str) -> str:
        if value not in ACTION_SOURCES:
            raise ValueError(f"default_action_source must be one of {', '.join(ACTION_SOURCES)}")
        return value

    @pydantic.model_validator(mode="after")
    def _check(self) -> MetaSettings:
        if not self.dataset_id and not self.datasets:
            raise ValueError("set dataset_id (or datasets, a mapping of event name to ids)")
        if self.limited_data_use and (self.ldu_country, self.ldu_state) not in ((0, 0), (1, 1000)):
            raise ValueError("Limited Data Use takes ldu_country/ldu_state 0/0 (Meta geolocates) "
                             "or 1/1000 (California)")
        return self


def _check_event_name(name: str, what: str) -> None:
    """Refuse an event name Meta would refuse: blank, or over :data:`MAX_EVENT_NAME`."""
    if not name.strip():
        raise ValueError(f"{what} a blank event name: write a standard event such as "
                         "Purchase, or a custom event name")
    if len(name) > MAX_EVENT_NAME:
        raise ValueError(f"{what} {name[:20]!r}..., longer than the {MAX_EVENT_NAME} "
                         "characters Meta accepts in an event name")


def _check_dataset(dataset: str) -> None:
    if not re.fullmatch(r"\d{5,20}", dataset):
        raise ValueError(f"dataset id {dataset!r} must be the numeric id from Events Manager")
