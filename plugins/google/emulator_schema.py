"""The JSON shape of ``IngestEventsRequest``, read the way Google's JSON transcoding reads it.

The tables below are the Data Manager v1 protos (googleapis ``google/ads/datamanager/v1/``:
``ingestion_service.proto``, ``destination.proto``, ``event.proto``, ``user_data.proto``,
``consent.proto``, ``cart_data.proto``, ``device_info.proto``, ``encryption_info.proto``,
``encrypted_user_id.proto``, ``experimental_field.proto``, ``user_properties.proto``,
``item_parameter.proto``), written with their JSON (lowerCamelCase) names.

:func:`parse` walks a request body and applies the proto3 JSON mapping
(https://protobuf.dev/programming-guides/json/): both the JSON name and the proto name
are accepted, ``null`` means "not set", unknown names are refused, enums are names (or
numbers), int64 may be a string, a Timestamp is RFC 3339 text. It returns the request
with every key in its JSON name, so later checks read one spelling. Any mismatch raises
the transcoding error of :func:`plugins.google.emulator_errors.bad_json`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from plugins.google import emulator_errors as errors

S, B, D, I64, I32, TS = "string", "bool", "double", "int64", "int32", "timestamp"

#: enum name -> (proto type name, value names in order of their numbers).
ENUMS: dict[str, tuple[str, dict[str, int]]] = {
    "Encoding": ("google.ads.datamanager.v1.Encoding",
                 {"ENCODING_UNSPECIFIED": 0, "HEX": 1, "BASE64": 2}),
    "AccountType": ("google.ads.datamanager.v1.ProductAccount.AccountType", {
        "ACCOUNT_TYPE_UNSPECIFIED": 0, "GOOGLE_ADS": 1, "DISPLAY_VIDEO_PARTNER": 2,
        "DISPLAY_VIDEO_ADVERTISER": 3, "DATA_PARTNER": 4, "GOOGLE_ANALYTICS_PROPERTY": 5,
        "GOOGLE_AD_MANAGER_AUDIENCE_LINK": 6, "FLOODLIGHT_CONFIG": 7}),
    "Product": ("google.ads.datamanager.v1.Product", {
        "PRODUCT_UNSPECIFIED": 0, "GOOGLE_ADS": 1, "DISPLAY_VIDEO_PARTNER": 2,
        "DISPLAY_VIDEO_ADVERTISER": 3, "DATA_PARTNER": 4}),
    "ConsentStatus": ("google.ads.datamanager.v1.ConsentStatus", {
        "CONSENT_STATUS_UNSPECIFIED": 0, "CONSENT_GRANTED": 1, "CONSENT_DENIED": 2}),
    "EventSource": ("google.ads.datamanager.v1.EventSource", {
        "EVENT_SOURCE_UNSPECIFIED": 0, "WEB": 1, "APP": 2, "IN_STORE": 3, "PHONE": 4,
        "OTHER": 5, "MESSAGE": 6}),
    "CustomerType": ("google.ads.datamanager.v1.CustomerType", {
        "CUSTOMER_TYPE_UNSPECIFIED": 0, "NEW": 1, "RETURNING": 2, "REENGAGED": 3}),
    "CustomerValueBucket": ("google.ads.datamanager.v1.CustomerValueBucket", {
        "CUSTOMER_VALUE_BUCKET_UNSPECIFIED": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3}),
    "KeyType": ("google.ads.datamanager.v1.GcpWrappedKeyInfo.KeyType", {
        "KEY_TYPE_UNSPECIFIED": 0, "XCHACHA20_POLY1305": 1}),
    "EncryptionEntityType": ("google.ads.datamanager.v1.EncryptedUserId.EncryptionEntityType", {
        "ENCRYPTION_ENTITY_TYPE_UNSPECIFIED": 0, "CAMPAIGN_MANAGER_ACCOUNT": 1,
        "CAMPAIGN_MANAGER_ADVERTISER": 2, "DISPLAY_VIDEO_PARTNER": 3,
        "DISPLAY_VIDEO_ADVERTISER": 4, "GOOGLE_ADS_CUSTOMER": 5,
        "GOOGLE_AD_MANAGER_NETWORK_CODE": 6}),
    "EncryptionSource": ("google.ads.datamanager.v1.EncryptedUserId.EncryptionSource", {
        "ENCRYPTION_SOURCE_UNSPECIFIED": 0, "AD_SERVING": 1, "DATA_TRANSFER": 2}),
}


def _e(name: str) -> tuple[str, str]:
    return ("enum", name)


def _m(name: str) -> tuple[str, str]:
    return ("message", name)


#: message -> {JSON name: (type, repeated)}; a type is a scalar name, ("enum", E) or
#: ("message", M).
MESSAGES: dict[str, dict[str, tuple[Any, bool]]] = {
    "IngestEventsRequest": {
        "destinations": (_m("Destination"), True), "events": (_m("Event"), True),
        "consent": (_m("Consent"), False), "validateOnly": (B, False),
        "encoding": (_e("Encoding"), False), "encryptionInfo": (_m("EncryptionInfo"), False)},
    "Destination": {
        "reference": (S, False), "loginAccount": (_m("ProductAccount"), False),
        "linkedAccount": (_m("ProductAccount"), False),
        "operatingAccount": (_m("ProductAccount"), False), "productDestinationId": (S, False)},
    "ProductAccount": {"product": (_e("Product"), False), "accountId": (S, False),
                       "accountType": (_e("AccountType"), False)},
    "Event": {
        "destinationReferences": (S, True), "transactionId": (S, False),
        "eventTimestamp": (TS, False), "lastUpdatedTimestamp": (TS, False),
        "userData": (_m("UserData"), False), "consent": (_m("Consent"), False),
        "adIdentifiers": (_m("AdIdentifiers"), False), "currency": (S, False),
        "conversionValue": (D, False), "conversionCount": (D, False),
        "eventSource": (_e("EventSource"), False), "eventDeviceInfo": (_m("DeviceInfo"), False),
        "cartData": (_m("CartData"), False), "customVariables": (_m("CustomVariable"), True),
        "experimentalFields": (_m("ExperimentalField"), True),
        "userProperties": (_m("UserProperties"), False), "eventName": (S, False),
        "clientId": (S, False), "userId": (S, False),
        "additionalEventParameters": (_m("EventParameter"), True),
        "thirdPartyUserData": (_m("UserData"), False),
        "eventLocation": (_m("EventLocation"), False), "appInstanceId": (S, False)},
    "AdIdentifiers": {
        "sessionAttributes": (S, False), "gclid": (S, False), "gbraid": (S, False),
        "wbraid": (S, False), "landingPageDeviceInfo": (_m("DeviceInfo"), False),
        "mobileDeviceId": (S, False), "dclid": (S, False), "impressionId": (S, False),
        "matchId": (S, False), "encryptedUserIds": (_m("EncryptedUserId"), True)},
    "EncryptedUserId": {
        "encryptedId": (S, False), "entityType": (_e("EncryptionEntityType"), False),
        "entityId": (I64, False), "source": (_e("EncryptionSource"), False)},
    "UserData": {"userIdentifiers": (_m("UserIdentifier"), True)},
    "UserIdentifier": {"emailAddress": (S, False), "phoneNumber": (S, False),
                       "address": (_m("AddressInfo"), False)},
    "AddressInfo": {name: (S, False) for name in (
        "givenName", "familyName", "regionCode", "postalCode", "addressLine", "city",
        "administrativeArea")},
    "Consent": {"adUserData": (_e("ConsentStatus"), False),
                "adPersonalization": (_e("ConsentStatus"), False)},
    "DeviceInfo": {
        **{name: (S, False) for name in (
            "userAgent", "ipAddress", "category", "languageCode", "operatingSystem",
            "operatingSystemVersion", "model", "brand", "browser", "browserVersion")},
        "screenHeight": (I32, False), "screenWidth": (I32, False)},
    "CartData": {
        "merchantId": (S, False), "merchantFeedLabel": (S, False),
        "merchantFeedLanguageCode": (S, False), "transactionDiscount": (D, False),
        "items": (_m("Item"), True), "couponCodes": (S, True)},
    "Item": {
        "merchantProductId": (S, False), "quantity": (I64, False), "unitPrice": (D, False),
        "itemId": (S, False), "additionalItemParameters": (_m("ItemParameter"), True),
        "merchantId": (S, False), "merchantFeedLabel": (S, False),
        "merchantFeedLanguageCode": (S, False), "conversionValue": (D, False),
        "customVariables": (_m("ItemCustomVariable"), True)},
    "CustomVariable": {"variable": (S, False), "value": (S, False),
                       "destinationReferences": (S, True)},
    "ItemCustomVariable": {"variable": (S, False), "value": (S, False),
                           "destinationReferences": (S, True)},
    "ItemParameter": {"parameterName": (S, False), "value": (S, False)},
    "EventParameter": {"parameterName": (S, False), "value": (S, False)},
    "ExperimentalField": {"field": (S, False), "value": (S, False)},
    "UserProperties": {
        "customerType": (_e("CustomerType"), False),
        "customerValueBucket": (_e("CustomerValueBucket"), False),
        "additionalUserProperties": (_m("UserProperty"), True)},
    "UserProperty": {"propertyName": (S, False), "value": (S, False)},
    "EventLocation": {name: (S, False) for name in (
        "storeId", "city", "subdivisionCode", "regionCode", "subcontinentCode",
        "continentCode")},
    "EncryptionInfo": {"gcpWrappedKeyInfo": (_m("GcpWrappedKeyInfo"), False),
                       "awsWrappedKeyInfo": (_m("AwsWrappedKeyInfo"), False),
                       "coordinatorKeyInfo": (_m("CoordinatorKeyInfo"), False)},
    "GcpWrappedKeyInfo": {"keyType": (_e("KeyType"), False), "wipProvider": (S, False),
                          "kekUri": (S, False), "encryptedDek": (S, False)},
    "AwsWrappedKeyInfo": {"keyType": (_e("KeyType"), False), "roleArn": (S, False),
                          "kekUri": (S, False), "encryptedDek": (S, False)},
    "CoordinatorKeyInfo": {"keyId": (S, False)},
}

#: oneof groups: at most one member may be set (proto ``oneof``).
ONEOFS = {"UserIdentifier": ("identifier", ("emailAddress", "phoneNumber", "address")),
          "EncryptionInfo": ("wrapped_key", ("gcpWrappedKeyInfo", "awsWrappedKeyInfo",
                                             "coordinatorKeyInfo"))}

_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?"
                        r"(Z|[+-]\d{2}:\d{2})")
_INT = re.compile(r"-?\d+")
_INT32 = 2 ** 31


def snake(name: str) -> str:
    """The proto field name of a JSON name: ``userIdentifiers`` -> ``user_identifiers``."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


class Path:
    """A field path in the request, printed in proto (snake_case) or JSON (camelCase) names,
    in google.rpc.BadRequest.FieldViolation's ``a[0].b`` form."""

    def __init__(self, camel: bool = False, parts: tuple[str, ...] = ()):
        self.camel = camel
        self.parts = parts

    def __truediv__(self, part: str | int) -> Path:
        if isinstance(part, int):
            return Path(self.camel, (*self.parts[:-1], f"{self.parts[-1]}[{part}]"))
        return Path(self.camel, (*self.parts, part if self.camel else snake(part)))

    def __str__(self) -> str:
        return ".".join(self.parts)


def parse_timestamp(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp as proto3 JSON accepts it, else None."""
    match = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    fraction = match[7] or ""
    offset = match[8]
    try:
        moment = dt.datetime(int(match[1]), int(match[2]), int(match[3]), int(match[4]),
                             int(match[5]), int(match[6]), tzinfo=dt.UTC)
    except ValueError:
        return None
    if offset != "Z":
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        moment -= sign * dt.timedelta(hours=hours, minutes=minutes)
    return moment.timestamp() + (float(fraction) if fraction else 0.0)


def parse(body: Any, camel: bool = False) -> dict[str, Any]:
    """The request in JSON names, or :class:`GoogleError` (transcoding) naming the field."""
    if not isinstance(body, dict):
        raise errors.bad_json("", "Invalid JSON payload received. Expected an object.")
    return _message("IngestEventsRequest", body, Path(camel))


def _message(name: str, value: Any, path: Path) -> dict[str, Any]:
    fields = MESSAGES[name]
    by_proto = {snake(json_name): json_name for json_name in fields}
    out: dict[str, Any] = {}
    for key, item in value.items():
        json_name = key if key in fields else by_proto.get(key)
        if json_name is None:
            where = f" at '{path}'" if path.parts else ""
            raise errors.bad_json(str(path), f'Invalid JSON payload received. Unknown name '
                                             f'"{key}"{where}: Cannot find field.')
        if item is None:
            continue
        kind, repeated = fields[json_name]
        here = path / json_name
        if repeated:
            if not isinstance(item, list):
                raise _invalid(here, kind, item)
            out[json_name] = [_value(kind, element, here / i) for i, element in enumerate(item)]
        else:
            out[json_name] = _value(kind, item, here)
    if name in ONEOFS:
        group, members = ONEOFS[name]
        present = [m for m in members if m in out]
        if len(present) > 1:
            raise errors.bad_json(str(path), f"Invalid JSON payload received. Oneof field "
                                             f"'{group}' is already set. Cannot set "
                                             f"'{present[1]}'")
    return out


def _value(kind: Any, item: Any, path: Path) -> Any:
    if isinstance(kind, tuple) and kind[0] == "message":
        if not isinstance(item, dict):
            raise _invalid(path, kind, item)
        return _message(kind[1], item, path)
    if isinstance(kind, tuple):
        type_name, values = ENUMS[kind[1]]
        if isinstance(item, str) and item in values:
            return item
        if isinstance(item, int) and not isinstance(item, bool) and item in values.values():
            return next(k for k, v in values.items() if v == item)
        raise _invalid(path, kind, item)
    ok = {
        S: lambda v: isinstance(v, str),
        B: lambda v: isinstance(v, bool),
        D: _is_double,
        I64: lambda v: _is_int(v, 2 ** 63),
        I32: lambda v: _is_int(v, _INT32),
        TS: lambda v: parse_timestamp(v) is not None,
    }[kind](item)
    if not ok:
        raise _invalid(path, kind, item)
    if kind == D:
        return float(item)
    if kind in (I64, I32):
        return int(float(item)) if isinstance(item, float) else int(item)
    return item


def _is_double(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False


def _is_int(value: Any, bound: int) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer() and -bound <= value < bound
    if isinstance(value, int):
        return -bound <= value < bound
    return isinstance(value, str) and bool(_INT.fullmatch(value)) and -bound <= int(value) < bound


def _invalid(path: Path, kind: Any, item: Any) -> errors.GoogleError:
    if isinstance(kind, tuple) and kind[0] == "enum":
        type_name = f"type.googleapis.com/{ENUMS[kind[1]][0]}"
    elif isinstance(kind, tuple):
        type_name = "TYPE_MESSAGE"
    elif kind == TS:
        type_name = "type.googleapis.com/google.protobuf.Timestamp"
    else:
        type_name = "TYPE_" + {"string": "STRING", "bool": "BOOL", "double": "DOUBLE",
                               "int64": "INT64", "int32": "INT32"}[kind]
    shown = repr(item) if not isinstance(item, str) else f'"{item[:40]}"'
    return errors.bad_json(str(path), f"Invalid value at '{path}' ({type_name}), {shown}")
