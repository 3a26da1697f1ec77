"""events:ingest: the body's shape, the fast-fail rules, limits, access and validateOnly."""

from __future__ import annotations

import base64
import copy
import hashlib
from typing import Any

import pytest

SHA = hashlib.sha256(b"jane@example.com").hexdigest()


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_a_valid_request_is_accepted_and_recorded(emu, ingest, make_body, final_status):
    response = ingest(make_body())
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {"requestId"} and answer["requestId"]
    assert final_status(answer["requestId"])[0]["requestStatus"] == "SUCCESS"
    assert [e["transactionId"] for e in emu.events()] == ["order-1"]
    assert emu.counts["requests_accepted"] == 1


def set_path(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set ``a.b[0].c`` in a copy of ``body``; the value ``DELETE`` removes the key."""
    body = copy.deepcopy(body)
    parts = path.replace("]", "").replace("[", ".").split(".")
    node: Any = body
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last = parts[-1]
    if value == "DELETE":
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return body


ID0 = "events[0].user_data.user_identifiers[0]"
ADDR = "events[0].user_data.user_identifiers[2].address"
#: (change in JSON names, value, ErrorReason, reported field path in proto names)
RULES = [
    ("destinations", [], "REQUIRED_FIELD_MISSING", "destinations"),
    ("events", [], "REQUIRED_FIELD_MISSING", "events"),
    ("destinations.0.operatingAccount", "DELETE", "REQUIRED_FIELD_MISSING",
     "destinations[0].operating_account"),
    ("destinations.0.operatingAccount.accountId", "123-456-7890", "INVALID_FORMAT",
     "destinations[0].operating_account.account_id"),
    ("destinations.0.operatingAccount.accountType", "DELETE", "REQUIRED_FIELD_MISSING",
     "destinations[0].operating_account.account_type"),
    ("destinations.0.productDestinationId", "DELETE", "REQUIRED_FIELD_MISSING",
     "destinations[0].product_destination_id"),
    ("destinations.0.linkedAccount", {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
     "LINKED_ACCOUNT_ONLY_ALLOWED_WITH_DATA_PARTNER_LOGIN_ACCOUNT",
     "destinations[0].linked_account"),
    ("encoding", "DELETE", "REQUIRED_FIELD_MISSING", "encoding"),
    ("encryptionInfo", {"coordinatorKeyInfo": {"keyId": "k"}}, "INVALID_ARGUMENT",
     "encryption_info.coordinator_key_info"),
    ("events.0.eventTimestamp", "DELETE", "REQUIRED_FIELD_MISSING", "events[0].event_timestamp"),
    ("events.0.destinationReferences", ["nowhere"], "INVALID_DESTINATION",
     "events[0].destination_references[0]"),
    ("events.0.currency", "DOLLARS", "INVALID_CURRENCY_CODE", "events[0].currency"),
    ("events.0.currency", "XYZ", "INVALID_CURRENCY_CODE", "events[0].currency"),
    ("events.0.conversionValue", -1, "INVALID_NUMBER_FORMAT", "events[0].conversion_value"),
    ("events.0.userData", {"userIdentifiers": []}, "REQUIRED_FIELD_MISSING",
     "events[0].user_data.user_identifiers"),
    ("events.0.userData.userIdentifiers.0", {}, "REQUIRED_FIELD_MISSING", ID0),
    ("events.0.userData.userIdentifiers.0.emailAddress", "jane@example.com",
     "INVALID_HEX_ENCODING", ID0 + ".email_address"),
    ("events.0.userData.userIdentifiers.0.emailAddress", SHA[:63], "INVALID_SHA256_FORMAT",
     ID0 + ".email_address"),
    ("events.0.userData.userIdentifiers.0.emailAddress", SHA + "00", "INVALID_SHA256_FORMAT",
     ID0 + ".email_address"),
    ("events.0.userData.userIdentifiers.2.address.givenName", "DELETE",
     "REQUIRED_FIELD_MISSING", ADDR + ".given_name"),
    ("events.0.userData.userIdentifiers.2.address.familyName", "Doe", "INVALID_HEX_ENCODING",
     ADDR + ".family_name"),
    ("events.0.userData.userIdentifiers.2.address.regionCode", "USA", "INVALID_REGION_CODE",
     ADDR + ".region_code"),
    ("events.0.userData.userIdentifiers.2.address.regionCode", "ZZ", "INVALID_REGION_CODE",
     ADDR + ".region_code"),
    ("events.0.userData.userIdentifiers.2.address.postalCode", "DELETE",
     "REQUIRED_FIELD_MISSING", ADDR + ".postal_code"),
    ("events.0.userData.userIdentifiers.2.address.postalCode", "9404", "INVALID_POSTAL_CODE",
     ADDR + ".postal_code"),
    ("events.0.userData.userIdentifiers.2.address.postalCode", sha("94043"),
     "INVALID_POSTAL_CODE", ADDR + ".postal_code"),
    ("events.0.adIdentifiers", {"gbraid": "gb", "wbraid": "wb"}, "INVALID_ARGUMENT",
     "events[0].ad_identifiers.wbraid"),
    ("events.0.adIdentifiers", {"gclid": "g", "wbraid": "wb"}, "INVALID_ARGUMENT",
     "events[0].ad_identifiers.wbraid"),
    ("events.0.adIdentifiers", {"gbraid": "gb"}, "INVALID_ARGUMENT",
     "events[0].ad_identifiers.gbraid"),
    ("events.0.userData", "DELETE", "NO_IDENTIFIERS_PROVIDED", "events[0]"),
    ("events.0.cartData.items.0.quantity", -2, "INVALID_NUMBER_FORMAT",
     "events[0].cart_data.items[0].quantity"),
]


@pytest.mark.parametrize(("where", "value", "reason", "field"), RULES,
                         ids=[f"{r[2]}:{r[3]}" for r in RULES])
def test_one_broken_rule_fails_the_request(emu, ingest, make_body, violation, detail,
                                           where, value, reason, field):
    response = ingest(set_path(make_body(), where, value))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert detail(response, "ErrorInfo")["reason"] == reason
    assert detail(response, "ErrorInfo")["domain"] == "datamanager.googleapis.com"
    assert violation(response)["field"] == field
    assert violation(response)["reason"] == reason
    assert emu.records() == [] and emu.counts["requests_rejected"] == 1


#: (change, the transcoding error's field path and a piece of its message)
SHAPES = [
    ("events.0.colour", "red", "events[0]", 'Unknown name "colour"'),
    ("validate", True, "", 'Unknown name "validate"'),
    ("events.0.eventSource", "STORE", "events[0].event_source",
     "google.ads.datamanager.v1.EventSource"),
    ("encoding", "hex", "encoding", "google.ads.datamanager.v1.Encoding"),
    ("consent.adUserData", "GRANTED", "consent.ad_user_data", "ConsentStatus"),
    ("events.0.eventTimestamp", "2025-06-05 23:10:12", "events[0].event_timestamp",
     "google.protobuf.Timestamp"),
    ("events.0.eventTimestamp", 1760000000, "events[0].event_timestamp", "Timestamp"),
    ("events.0.eventTimestamp", "2025-02-30T10:00:00Z", "events[0].event_timestamp",
     "Timestamp"),
    ("events.0.transactionId", 17, "events[0].transaction_id", "TYPE_STRING"),
    ("events.0.conversionValue", "a lot", "events[0].conversion_value", "TYPE_DOUBLE"),
    ("events.0.cartData.items.0.quantity", 1.5, "events[0].cart_data.items[0].quantity",
     "TYPE_INT64"),
    ("validateOnly", "yes", "validate_only", "TYPE_BOOL"),
    ("events", {"not": "a list"}, "events", "Invalid value"),
    ("events.0.userData.userIdentifiers.0.phoneNumber", SHA, ID0, "Oneof field 'identifier'"),
]


@pytest.mark.parametrize(("where", "value", "field", "text"), SHAPES,
                         ids=[f"{s[2] or 'top'}:{s[3]}" for s in SHAPES])
def test_a_body_that_does_not_fit_the_proto_is_refused(emu, ingest, make_body, violation,
                                                        where, value, field, text):
    response = ingest(set_path(make_body(), where, value))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and text in error["message"]
    assert violation(response)["field"] == field
    assert emu.records() == []


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_an_object_is_refused(emu, body):
    import requests

    response = requests.post(f"{emu.url}/v1/events:ingest", data=body, timeout=5,
                             headers={"Authorization": "Bearer offramp-emulator-token",
                                      "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("Invalid JSON payload received.")


def test_proto_names_and_enum_numbers_are_accepted_too(emu, ingest, make_body, make_event):
    event = make_event()
    event["event_source"] = 3
    del event["eventSource"]
    event["user_data"] = {"user_identifiers": [{"email_address": SHA}]}
    del event["userData"]
    body = make_body([event])
    body["destinations"][0] = {"operating_account": {"account_type": 1,
                                                      "account_id": "1234567890"},
                               "product_destination_id": "555000111"}
    assert ingest(body).status_code == 200
    recorded = emu.records()[0].event
    assert recorded["eventSource"] == "IN_STORE"
    assert recorded["userData"] == {"userIdentifiers": [{"emailAddress": SHA}]}


@pytest.mark.parametrize("stamp", ["2025-06-05T23:10:12-05:00", "2025-06-06T16:45:09.333Z",
                                   "2025-06-05T11:42:17.177+03:00", "2025-06-06T09:22:16Z",
                                   "2025-06-06T09:22:16.123456789Z"])
def test_rfc3339_timestamps_with_offsets_and_fractions(emu, ingest, make_body, make_event,
                                                       clock, stamp):
    clock.now = 1_749_300_000  # 2025-06-07
    assert ingest(make_body([make_event(eventTimestamp=stamp)])).status_code == 200


def test_an_event_in_the_future_is_refused(ingest, make_body, make_event, clock, violation):
    future = make_event(eventTimestamp=_stamp(clock.now + 3600))
    response = ingest(make_body([future]))
    assert response.status_code == 400
    assert violation(response)["reason"] == "EVENT_TIME_INVALID"
    assert ingest(make_body([make_event(eventTimestamp=_stamp(clock.now + 60))])).ok


def _stamp(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(("count", "status"), [(2000, 200), (2001, 400)])
def test_at_most_2000_events(emu, ingest, make_body, make_event, violation, count, status):
    events = [make_event(f"o{i}", cartData=None) for i in range(count)]
    response = ingest(make_body(events))
    assert response.status_code == status
    if status == 400:
        assert violation(response) == {"field": "events", "reason": "TOO_MANY_EVENTS",
                                       "description": violation(response)["description"]}
        assert emu.records() == []
    else:
        assert len(emu.records()) == 2000


@pytest.mark.parametrize(("count", "status"), [(10, 200), (11, 400)])
def test_at_most_10_identifiers_per_event(ingest, make_body, make_event, violation, count,
                                          status):
    ids = [{"emailAddress": sha(f"u{i}@example.com")} for i in range(count)]
    response = ingest(make_body([make_event(userData={"userIdentifiers": ids})]))
    assert response.status_code == status
    if status == 400:
        assert violation(response)["reason"] == "TOO_MANY_USER_IDENTIFIERS"
        assert violation(response)["field"] == "events[0].user_data.user_identifiers"


@pytest.mark.parametrize(("count", "status"), [(10, 200), (11, 400)])
def test_at_most_10_destinations(ingest, make_body, violation, count, status):
    destinations = [{"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
                     "productDestinationId": str(100 + i), "reference": f"d{i}"}
                    for i in range(count)]
    response = ingest(make_body(destinations=destinations))
    assert response.status_code == status
    if status == 400:
        assert violation(response)["reason"] == "TOO_MANY_DESTINATIONS"


def test_duplicate_destination_references_are_refused(ingest, make_body, violation):
    destination = {"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
                   "productDestinationId": "1", "reference": "same"}
    response = ingest(make_body(destinations=[destination, {**destination,
                                                            "productDestinationId": "2"}]))
    assert violation(response) == {"field": "destinations[1].reference",
                                   "reason": "DUPLICATE_DESTINATION_REFERENCE",
                                   "description": violation(response)["description"]}


def test_one_bad_event_fails_the_whole_request_and_is_named(emu, ingest, make_body,
                                                            make_event, violation):
    events = [make_event(f"o{i}") for i in range(20)]
    events[12]["userData"]["userIdentifiers"][0]["emailAddress"] = "not-a-hash"
    response = ingest(make_body(events))
    assert response.status_code == 400
    assert violation(response)["field"] == ID0.replace("events[0]", "events[12]") + \
        ".email_address"
    assert emu.records() == []
    del events[12]
    assert ingest(make_body(events)).status_code == 200
    assert len(emu.records()) == 19


def test_camel_case_paths_option(emu, ingest, make_body, make_event, violation):
    emu.camel_case_paths = True
    events = [make_event(f"o{i}") for i in range(13)]
    events[12]["userData"]["userIdentifiers"][0]["emailAddress"] = "not-a-hash"
    response = ingest(make_body(events))
    assert violation(response)["field"] == "events[12].userData.userIdentifiers[0].emailAddress"


@pytest.mark.parametrize("encoding, value", [
    ("HEX", SHA), ("HEX", SHA.upper()),
    ("BASE64", base64.b64encode(bytes.fromhex(SHA)).decode())])
def test_hashes_in_either_encoding(ingest, make_body, make_event, encoding, value):
    event = make_event(userData={"userIdentifiers": [{"emailAddress": value}]})
    assert ingest(make_body([event], encoding=encoding)).status_code == 200


@pytest.mark.parametrize("value, reason", [
    ("not base64!", "INVALID_BASE64_ENCODING"),
    (base64.b64encode(b"short").decode(), "INVALID_SHA256_FORMAT"),
    (SHA, "INVALID_SHA256_FORMAT")])
def test_base64_encoding_is_checked(ingest, make_body, make_event, violation, value, reason):
    event = make_event(userData={"userIdentifiers": [{"emailAddress": value}]})
    response = ingest(make_body([event], encoding="BASE64"))
    assert response.status_code == 400 and violation(response)["reason"] == reason


def test_encrypted_identifiers_are_not_checked_as_hashes(ingest, make_body, make_event):
    event = make_event(userData={"userIdentifiers": [{"emailAddress": "b3BhcXVl"}]})
    info = {"gcpWrappedKeyInfo": {"keyType": "XCHACHA20_POLY1305", "wipProvider": "w",
                                  "kekUri": "gcp-kms://k", "encryptedDek": "ZGVr"}}
    assert ingest(make_body([event], encoding="BASE64", encryptionInfo=info)).status_code == 200


def test_click_ids_alone_are_enough(ingest, make_body, make_event):
    for ads in ({"gclid": "Cj0KCQ"}, {"gbraid": "gb1"}, {"wbraid": "wb1"}):
        event = make_event(adIdentifiers=ads, cartData=None)
        del event["userData"]
        assert ingest(make_body([event])).status_code == 200, ads


def test_cart_warnings_come_back_with_the_request_id(ingest, make_body, make_event):
    event = make_event(cartData={"merchantId": "merchant-x", "items": [{"quantity": 1}]})
    response = ingest(make_body([make_event("o0"), event]))
    assert response.status_code == 200
    warnings = response.json()["fieldWarnings"]
    assert [(w["reason"], w["field"]) for w in warnings] == [
        ("WARNING_REASON_INVALID_MERCHANT_ID", "events[1].cart_data.merchant_id"),
        ("WARNING_REASON_CART_DATA_ITEM_MERCHANT_PRODUCT_ID_MISSING",
         "events[1].cart_data.items[0]"),
        ("WARNING_REASON_CART_DATA_ITEM_UNIT_PRICE_MISSING", "events[1].cart_data.items[0]")]


def test_validate_only_records_nothing(emu, ingest, make_body, retrieve, violation):
    response = ingest(make_body(validateOnly=True))
    assert response.status_code == 200
    assert emu.records() == [] and emu.events() == []
    status = retrieve(response.json()["requestId"])
    assert status.status_code == 400 and violation(status)["reason"] == "INVALID_REQUEST_ID"
    bad = make_body(validateOnly=True)
    bad["events"][0]["currency"] = "DOLLARS"
    assert ingest(bad).status_code == 400


def test_validate_only_leaves_duplicates_undecided(emu, ingest, make_body, final_status):
    ingest(make_body(validateOnly=True))
    request_id = ingest(make_body()).json()["requestId"]
    assert final_status(request_id)[0]["requestStatus"] == "SUCCESS"


@pytest.mark.parametrize("role", ["operatingAccount", "loginAccount"])
def test_an_account_the_caller_cannot_reach_is_403(emu, ingest, make_body, detail, role):
    body = make_body()
    body["destinations"][0][role] = {"accountType": "GOOGLE_ADS", "accountId": "9999999999"}
    response = ingest(body)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert "accountTypes/GOOGLE_ADS/accounts/9999999999" in error["message"]
    assert detail(response, "ErrorInfo")["reason"] == "PERMISSION_DENIED"
    assert emu.records() == []


def test_a_manager_login_account_and_known_conversion_actions(emu, ingest, make_body,
                                                              violation):
    emu.accounts = {"1234567890": {"555000111"}, "1112223334": None}
    body = make_body()
    body["destinations"][0]["loginAccount"] = {"accountType": "GOOGLE_ADS",
                                               "accountId": "1112223334"}
    assert ingest(body).status_code == 200
    body["destinations"][0]["productDestinationId"] = "777"
    response = ingest(body)
    assert response.status_code == 400
    assert violation(response)["reason"] == "INVALID_CONVERSION_ACTION_ID"
    assert violation(response)["field"] == "destinations[0].product_destination_id"


@pytest.mark.parametrize("method, path", [("GET", "/v1/events:ingest"),
                                          ("POST", "/v1/audienceMembers:ingest"),
                                          ("GET", "/v2/requestStatus:retrieve")])
def test_unknown_routes_are_404(emu, method, path):
    import requests

    response = requests.request(method, emu.url + path, timeout=5,
                                headers={"Authorization": "Bearer offramp-emulator-token"})
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"
