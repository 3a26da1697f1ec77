"""The Data Manager API's own checks of an ``IngestEventsRequest`` (after transcoding).

Fast-fail (understand-errors page): the first broken rule fails the whole request with
INVALID_ARGUMENT, a Data Manager ``ErrorReason`` (``error.proto``) and the field path.
Rules that only warn (``processing_errors.proto`` ``WarningReason``) come back as
``fieldWarnings`` of a successful answer. Each rule's source, and which ones are guesses,
are in ``docs/google-emulator.md``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import pycountry

from plugins.google import emulator_errors as errors
from plugins.google.emulator_schema import Path, parse_timestamp

MAX_EVENTS = 2000
MAX_DESTINATIONS = 10
MAX_IDENTIFIERS = 10
_HEX = re.compile(r"[0-9a-fA-F]*")
_DIGITS = re.compile(r"\d+")
_US_POSTAL = re.compile(r"\d{5}(-\d{4})?")
_BRAIDS = ("gbraid", "wbraid")


@dataclass
class Limits:
    max_events: int = MAX_EVENTS
    max_destinations: int = MAX_DESTINATIONS
    max_identifiers: int = MAX_IDENTIFIERS
    future_skew: float = 600.0


def check_destinations(request: dict[str, Any], path: Path, limits: Limits) -> set[str]:
    """Raise the first problem of the destinations; return their references."""
    destinations = request.get("destinations") or []
    if not destinations:
        raise _missing(path / "destinations")
    if len(destinations) > limits.max_destinations:
        raise errors.invalid(str(path / "destinations"), "TOO_MANY_DESTINATIONS",
                             f"At most {limits.max_destinations} destinations are allowed; "
                             f"this request has {len(destinations)}.")
    return _check_destinations(destinations, path)


def check(request: dict[str, Any], path: Path, now: float, limits: Limits) -> list[dict]:
    """Raise the first violation of the events and request options (the destinations
    passed :func:`check_destinations`); return the field warnings of the request."""
    destinations = request["destinations"]
    references = {d["reference"] for d in destinations if d.get("reference")}
    events = request.get("events") or []
    if not events:
        raise _missing(path / "events")
    if len(events) > limits.max_events:
        raise errors.invalid(str(path / "events"), "TOO_MANY_EVENTS",
                             f"At most {limits.max_events} events are allowed per request; "
                             f"this request has {len(events)}.")
    encryption = request.get("encryptionInfo")
    if encryption is not None and "coordinatorKeyInfo" in encryption:
        raise errors.invalid(str(path / "encryptionInfo" / "coordinatorKeyInfo"),
                             "INVALID_ARGUMENT",
                             "coordinator_key_info is not supported for IngestEvents.")
    encoding = request.get("encoding", "ENCODING_UNSPECIFIED")
    warnings: list[dict] = []
    for i, event in enumerate(events):
        here = path / "events" / i
        _check_event(event, here, now, limits, references, len(destinations))
        if "userData" in event:
            if encoding == "ENCODING_UNSPECIFIED":
                raise errors.invalid(str(path / "encoding"), "REQUIRED_FIELD_MISSING",
                                     "encoding is required when events carry user_data.")
            _check_user_data(event["userData"], here / "userData", limits, encoding,
                             encrypted=encryption is not None)
        warnings.extend(_warnings(event, here))
    return warnings


def _missing(path: Path) -> errors.GoogleError:
    return errors.invalid(str(path), "REQUIRED_FIELD_MISSING", f"{path} is required.")


def _check_destinations(destinations: list[dict], path: Path) -> set[str]:
    references: set[str] = set()
    for i, destination in enumerate(destinations):
        here = path / "destinations" / i
        account = destination.get("operatingAccount")
        if not account:
            raise _missing(here / "operatingAccount")
        _check_account(account, here / "operatingAccount")
        for role in ("loginAccount", "linkedAccount"):
            if role in destination:
                _check_account(destination[role], here / role)
        if "linkedAccount" in destination and (destination.get("loginAccount") or {}).get(
                "accountType") != "DATA_PARTNER":
            raise errors.invalid(str(here / "linkedAccount"),
                                 "LINKED_ACCOUNT_ONLY_ALLOWED_WITH_DATA_PARTNER_LOGIN_ACCOUNT",
                                 "linked_account needs a DATA_PARTNER login_account.")
        if not destination.get("productDestinationId"):
            raise _missing(here / "productDestinationId")
        reference = destination.get("reference")
        if reference:
            if reference in references:
                raise errors.invalid(str(here / "reference"), "DUPLICATE_DESTINATION_REFERENCE",
                                     "Two destinations have the same reference.")
            references.add(reference)
    return references


def _check_account(account: dict, path: Path) -> None:
    if not account.get("accountId"):
        raise _missing(path / "accountId")
    kind = account.get("accountType", "ACCOUNT_TYPE_UNSPECIFIED")
    product = account.get("product")
    if kind == "ACCOUNT_TYPE_UNSPECIFIED" and product in (None, "PRODUCT_UNSPECIFIED"):
        raise _missing(path / "accountType")
    if product not in (None, "PRODUCT_UNSPECIFIED") and kind not in (
            "ACCOUNT_TYPE_UNSPECIFIED", product):
        raise errors.invalid(str(path / "product"), "INVALID_ARGUMENT",
                             "product and account_type are both set and do not match.")
    if not _DIGITS.fullmatch(account["accountId"]):
        raise errors.invalid(str(path / "accountId"), "INVALID_FORMAT",
                             "account_id must be digits only, without hyphens.")


def _check_event(event: dict, path: Path, now: float, limits: Limits, references: set[str],
                 destination_count: int) -> None:
    stamp = event.get("eventTimestamp")
    if stamp is None:
        raise _missing(path / "eventTimestamp")
    moment = parse_timestamp(stamp)
    assert moment is not None  # emulator_schema.parse refused a timestamp it cannot read
    if moment > now + limits.future_skew:
        raise errors.invalid(str(path / "eventTimestamp"), "EVENT_TIME_INVALID",
                             "event_timestamp is in the future.")
    for j, reference in enumerate(event.get("destinationReferences", [])):
        if reference not in references:
            raise errors.invalid(str(path / "destinationReferences" / j), "INVALID_DESTINATION",
                                 "No destination of the request has this reference.")
    currency = event.get("currency")
    if currency is not None and (len(currency) != 3 or not currency.isalpha() or
                                 pycountry.currencies.get(alpha_3=currency.upper()) is None):
        raise errors.invalid(str(path / "currency"), "INVALID_CURRENCY_CODE",
                             "currency must be an ISO 4217 code such as USD.")
    value = event.get("conversionValue")
    if value is not None and value < 0:
        raise errors.invalid(str(path / "conversionValue"), "INVALID_NUMBER_FORMAT",
                             "conversion_value must not be negative.")
    ads = event.get("adIdentifiers") or {}
    braids = [b for b in _BRAIDS if ads.get(b)]
    if len(braids) == 2:
        raise errors.invalid(str(path / "adIdentifiers" / "wbraid"), "INVALID_ARGUMENT",
                             "gbraid and wbraid cannot both be set.")
    if braids and ads.get("gclid"):
        raise errors.invalid(str(path / "adIdentifiers" / braids[0]), "INVALID_ARGUMENT",
                             f"{braids[0]} cannot be set together with gclid.")
    identifiers = (event.get("userData") or {}).get("userIdentifiers") or []
    if braids and identifiers:
        raise errors.invalid(str(path / "adIdentifiers" / braids[0]), "INVALID_ARGUMENT",
                             f"{braids[0]} cannot be set together with user identifiers.")
    click_ids = ("gclid", "gbraid", "wbraid", "mobileDeviceId", "dclid", "impressionId",
                 "matchId", "encryptedUserIds", "sessionAttributes")
    if not identifiers and not any(ads.get(k) for k in click_ids) and "userData" not in event:
        raise errors.invalid(str(path), "NO_IDENTIFIERS_PROVIDED",
                             "The event has no user identifiers and no ad identifiers.")
    for j, item in enumerate((event.get("cartData") or {}).get("items", [])):
        if item.get("quantity", 0) < 0:
            raise errors.invalid(str(path / "cartData" / "items" / j / "quantity"),
                                 "INVALID_NUMBER_FORMAT", "quantity must not be negative.")


def _check_user_data(user_data: dict, path: Path, limits: Limits, encoding: str,
                     encrypted: bool) -> None:
    identifiers = user_data.get("userIdentifiers") or []
    if not identifiers:
        raise _missing(path / "userIdentifiers")
    if len(identifiers) > limits.max_identifiers:
        raise errors.invalid(str(path / "userIdentifiers"), "TOO_MANY_USER_IDENTIFIERS",
                             f"At most {limits.max_identifiers} user identifiers are allowed "
                             f"per event; this one has {len(identifiers)}.")
    for j, identifier in enumerate(identifiers):
        here = path / "userIdentifiers" / j
        if not identifier:
            raise errors.invalid(str(here), "REQUIRED_FIELD_MISSING",
                                 "A user identifier needs email_address, phone_number or "
                                 "address.")
        for name in ("emailAddress", "phoneNumber"):
            if name in identifier:
                _check_hash(identifier[name], here / name, encoding, encrypted)
        if "address" in identifier:
            _check_address(identifier["address"], here / "address", encoding, encrypted)


def _check_address(address: dict, path: Path, encoding: str, encrypted: bool) -> None:
    for name in ("givenName", "familyName", "regionCode", "postalCode"):
        if not address.get(name):
            raise _missing(path / name)
    _check_hash(address["givenName"], path / "givenName", encoding, encrypted)
    _check_hash(address["familyName"], path / "familyName", encoding, encrypted)
    region = address["regionCode"]
    if len(region) != 2 or not region.isalpha() or \
            pycountry.countries.get(alpha_2=region.upper()) is None:
        raise errors.invalid(str(path / "regionCode"), "INVALID_REGION_CODE",
                             "region_code must be a 2-letter ISO-3166-1 alpha-2 code such as "
                             "US.")
    postal = address["postalCode"].strip()
    if region.upper() == "US" and not _US_POSTAL.fullmatch(postal) or \
            len(postal) == 64 and _HEX.fullmatch(postal):
        raise errors.invalid(str(path / "postalCode"), "INVALID_POSTAL_CODE",
                             "postal_code must be the plain postal code (not hashed); in the "
                             "US 5 digits or 5+4.")


def _check_hash(value: str, path: Path, encoding: str, encrypted: bool) -> None:
    """A SHA-256 digest in the request's encoding. Encrypted values are opaque here."""
    if encrypted:
        return
    if encoding == "HEX":
        if not _HEX.fullmatch(value):
            raise errors.invalid(str(path), "INVALID_HEX_ENCODING",
                                 "The value is not hex encoded.")
        if len(value) != 64:
            raise errors.invalid(str(path), "INVALID_SHA256_FORMAT",
                                 "The value is not a hex-encoded SHA-256 digest (64 characters).")
        return
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.invalid(str(path), "INVALID_BASE64_ENCODING",
                             "The value is not Base64 encoded.") from None
    if len(raw) != 32:
        raise errors.invalid(str(path), "INVALID_SHA256_FORMAT",
                             "The value is not a Base64-encoded SHA-256 digest (32 bytes).")


def _warnings(event: dict, path: Path) -> list[dict]:
    """Field warnings of ``WarningReason`` (processing_errors.proto) for one event."""
    out: list[dict] = []
    cart = event.get("cartData")
    if not cart:
        return out
    ads = event.get("adIdentifiers") or {}
    if any(ads.get(b) for b in _BRAIDS):
        out.append(_warning("WARNING_REASON_CART_DATA_NOT_SUPPORTED_WITH_GBRAID_OR_WBRAID",
                            "cart_data is not supported with gbraid or wbraid.", path / "cartData"))
    if cart.get("merchantId") and not _DIGITS.fullmatch(cart["merchantId"]):
        out.append(_warning("WARNING_REASON_INVALID_MERCHANT_ID", "merchant_id must be digits.",
                            path / "cartData" / "merchantId"))
    for j, item in enumerate(cart.get("items", [])):
        here = path / "cartData" / "items" / j
        if not item.get("merchantProductId"):
            out.append(_warning("WARNING_REASON_CART_DATA_ITEM_MERCHANT_PRODUCT_ID_MISSING",
                                "The item has no merchant_product_id.", here))
        if "unitPrice" not in item:
            out.append(_warning("WARNING_REASON_CART_DATA_ITEM_UNIT_PRICE_MISSING",
                                "The item has no unit_price.", here))
    return out


def _warning(reason: str, description: str, path: Path) -> dict:
    return {"reason": reason, "description": description, "field": str(path)}
