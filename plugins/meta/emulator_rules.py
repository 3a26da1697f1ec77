"""The per-event rules of Meta's Conversions API, as the emulator enforces them.

:func:`check_event` returns the first :class:`Problem` of one event (or None);
:func:`dedup_key` gives the key Meta deduplicates offline events on;
:func:`warnings` lists what looks wrong but is accepted. Sources for every rule
are in ``docs/meta-emulator.md`` (which cites ``shared/reference/meta_capi.md``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import pycountry

DAY = 86_400
#: How old ``event_time`` may be (meta_capi.md section 2).
MAX_AGE = 7 * DAY
MAX_AGE_PHYSICAL_STORE = 62 * DAY
#: Meta keeps the first of duplicate offline events within this window (section 4).
DEDUP_WINDOW = 7 * DAY

ACTION_SOURCES = frozenset({
    "email", "website", "app", "phone_call", "chat", "physical_store", "system_generated",
    "business_messaging", "other",
})
#: Customer-information parameters that must be SHA-256 hashed.
HASHED_FIELDS = ("em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country", "external_id")
#: Customer-information parameters sent as they are (never hashed).
UNHASHED_FIELDS = (
    "client_ip_address", "client_user_agent", "fbc", "fbp", "madid", "subscription_id",
    "fb_login_id", "lead_id", "anon_id", "page_id", "page_scoped_user_id", "ctwa_clid",
    "ig_account_id", "ig_sid",
)
CUSTOMER_INFO = HASHED_FIELDS + UNHASHED_FIELDS
#: The (country, state) pairs the server-event page lists for Limited Data Use.
LDU_LOCATIONS = frozenset({(0, 0), (1, 1000)})

_SHA256 = re.compile(r"[0-9a-f]{64}")
_LOOSE_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Problem:
    """Why Meta would reject an event: ``error_user_title``, ``error_user_msg``, subcode."""

    title: str
    message: str
    subcode: int | None = None


def check_event(event: Any, now: float, future_skew: float) -> Problem | None:
    """The first rule ``event`` breaks, measured at ``now`` (epoch seconds)."""
    if not isinstance(event, dict):
        return Problem("Invalid Event", "Each element of data must be a JSON object holding "
                                        "one event's parameters.")
    return (_check_name(event) or _check_action_source(event)
            or _check_time(event, now, future_skew) or _check_user_data(event)
            or _check_website(event) or _check_custom_data(event) or _check_ldu(event))


def as_int(value: Any) -> int | None:
    """An integer parameter as Graph reads it: a JSON integer or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def as_number(value: Any) -> float | None:
    """A finite number, or a string holding one (Graph coerces typed parameters)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _present(value: Any) -> bool:
    return value not in (None, "", [])


def _check_name(event: dict[str, Any]) -> Problem | None:
    name = event.get("event_name")
    if not isinstance(name, str) or not name.strip():
        return Problem("Missing Event Name", "event_name is required: a standard event such as "
                                             "Purchase, or a custom event name.")
    return None


def _check_action_source(event: dict[str, Any]) -> Problem | None:
    source = event.get("action_source")
    if source is None:
        return Problem("Missing Action Source", "action_source is required: it says where the "
                                                "conversion happened (physical_store for offline "
                                                "events).")
    if source not in ACTION_SOURCES:
        return Problem("Invalid Action Source",
                       f"action_source {str(source)[:40]!r} is not valid: use one of "
                       f"{', '.join(sorted(ACTION_SOURCES))}.")
    return None


def _check_time(event: dict[str, Any], now: float, future_skew: float) -> Problem | None:
    if event.get("event_time") is None:
        return Problem("Missing Event Time", "event_time is required: the Unix time in seconds "
                                             "when the event happened.")
    event_time = as_int(event["event_time"])
    if event_time is None:
        return Problem("Invalid Event Time", "event_time must be an integer Unix timestamp in "
                                             "seconds (GMT).")
    days = 62 if event.get("action_source") == "physical_store" else 7
    if now - event_time > days * DAY:
        return Problem(
            "Event Timestamp Too Old",
            "The timestamp for this event is too far in the past. Events need to be sent from "
            f"your server within {days} days of when they occurred. Enter a timestamp that has "
            f"occurred within the last {days} days.",
            2804003)
    if event_time - now > future_skew:
        return Problem("Event Timestamp In The Future",
                       "The timestamp for this event is in the future. event_time must be the "
                       "Unix time in seconds when the event happened, not later.")
    return None


def _check_user_data(event: dict[str, Any]) -> Problem | None:
    user_data = event.get("user_data")
    if user_data is None:
        return Problem("Missing User Data", "user_data is required: send at least one customer "
                                            "information parameter such as em or ph.")
    if not isinstance(user_data, dict):
        return Problem("Invalid User Data", "user_data must be a JSON object of customer "
                                            "information parameters.")
    for field in HASHED_FIELDS:
        value = user_data.get(field)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) and _SHA256.fullmatch(v) for v in values):
            return Problem(
                "Invalid Hashed Parameter",
                f"user_data.{field} must be hashed: a SHA-256 digest written as 64 lowercase "
                "hexadecimal characters (or a list of them). Normalize the value, then hash it.")
    if not any(_present(user_data.get(field)) for field in CUSTOMER_INFO):
        return Problem("Missing Customer Information Parameters",
                       "user_data needs at least one customer information parameter, such as "
                       "em, ph or external_id.")
    return None


def _check_website(event: dict[str, Any]) -> Problem | None:
    if event.get("action_source") != "website":
        return None
    user_data = event["user_data"]
    if not isinstance(user_data.get("client_user_agent"), str) \
            or not user_data["client_user_agent"].strip():
        return Problem("Missing Client User Agent", "Website events need "
                                                    "user_data.client_user_agent: the browser's "
                                                    "user agent.")
    url = event.get("event_source_url")
    if not isinstance(url, str) or not url.strip():
        return Problem("Missing Event Source URL", "Website events need event_source_url: the "
                                                   "address of the page where the event "
                                                   "happened.")
    return None


def _check_custom_data(event: dict[str, Any]) -> Problem | None:
    custom = event.get("custom_data")
    if custom is None:
        custom = {}
    if not isinstance(custom, dict):
        return Problem("Invalid Custom Data", "custom_data must be a JSON object.")
    currency = custom.get("currency")
    if currency is not None and not _currency_ok(currency):
        return Problem("Invalid Currency Code",
                       f"currency {str(currency)[:10]!r} is not an ISO 4217 currency code; use a "
                       "three-letter code such as USD or EUR.")
    if event["event_name"] == "Purchase":
        if as_number(custom.get("value")) is None:
            return Problem("Missing Value for Purchase Event",
                           "Purchase events need custom_data.value: the purchase's total as a "
                           "number.", 2804009)
        if currency is None:
            return Problem("Missing Value for Purchase Event",
                           "Purchase events need custom_data.currency: an ISO 4217 code such as "
                           "USD.", 2804009)
    return _check_contents(custom.get("contents"))


def _currency_ok(currency: Any) -> bool:
    return (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()
            and pycountry.currencies.get(alpha_3=currency.upper()) is not None)


def _check_contents(contents: Any) -> Problem | None:
    if contents is None:
        return None
    if not isinstance(contents, list):
        return Problem("Invalid Contents", "custom_data.contents must be a list of objects with "
                                           "id and quantity.")
    for item in contents:
        if not isinstance(item, dict) or not _present(item.get("id")) \
                or isinstance(item.get("id"), bool | dict | list):
            return Problem("Invalid Contents", "Every custom_data.contents item needs an id (the "
                                               "product id).")
        if as_int(item.get("quantity")) is None:
            return Problem("Invalid Contents", "Every custom_data.contents item needs a quantity: "
                                               "an integer number of units.")
    return None


def _check_ldu(event: dict[str, Any]) -> Problem | None:
    options = event.get("data_processing_options")
    if options is not None and (not isinstance(options, list)
                                or any(o != "LDU" for o in options)):
        return Problem("Invalid Data Processing Options",
                       'data_processing_options must be [] or ["LDU"].')
    has_country = event.get("data_processing_options_country") is not None
    has_state = event.get("data_processing_options_state") is not None
    if options and not (has_country and has_state):
        return Problem("Missing Limited Data Use Location",
                       "Events with data_processing_options [\"LDU\"] need "
                       "data_processing_options_country and data_processing_options_state: 0 and "
                       "0 to let Meta geolocate the event, or 1 and 1000 for California.")
    if has_country != has_state:
        return Problem("Missing Limited Data Use Location",
                       "Set data_processing_options_country and data_processing_options_state "
                       "together.")
    if has_country:
        location = (as_int(event["data_processing_options_country"]),
                    as_int(event["data_processing_options_state"]))
        if location not in LDU_LOCATIONS:
            return Problem("Invalid Limited Data Use Location",
                           "data_processing_options_country and data_processing_options_state "
                           "must be 0 and 0 (Meta geolocates) or 1 and 1000 (California).")
    return None


def dedup_key(dataset_id: str, event: dict[str, Any]) -> tuple[Any, ...]:
    """The identity Meta deduplicates a (valid) offline event on.

    With ``custom_data.order_id``: dataset, order id, event name, event time and
    item number. Without it: the ``event_id`` and event name; without either, the
    event name, time and the set of customer-information parameters.
    """
    custom = event.get("custom_data") or {}
    name = event["event_name"]
    event_time = as_int(event["event_time"])
    order_id = custom.get("order_id")
    if _present(order_id):
        item = custom.get("item_number", event.get("item_number"))
        return ("order", dataset_id, str(order_id), name, event_time,
                None if item is None else str(item))
    if _present(event.get("event_id")):
        return ("event_id", dataset_id, str(event["event_id"]), name)
    user_data = event["user_data"]
    params = tuple(sorted((field, json.dumps(user_data[field], sort_keys=True))
                          for field in CUSTOMER_INFO if _present(user_data.get(field))))
    return ("user", dataset_id, name, event_time, params)


def warnings(event: dict[str, Any]) -> list[str]:
    """What Meta accepts but is probably a mistake (hashed values in unhashed fields)."""
    user_data = event.get("user_data") or {}
    found = []
    for field in ("client_user_agent", "client_ip_address", "fbc", "fbp", "madid"):
        value = user_data.get(field)
        if isinstance(value, str) and _LOOSE_SHA256.fullmatch(value):
            found.append(f"user_data.{field} looks like a SHA-256 hash; Meta expects it "
                         "unhashed")
    return found
