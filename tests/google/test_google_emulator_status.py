"""requestStatus:retrieve: PROCESSING first, then per-destination outcomes computed from
the events (too old, duplicate transaction or click, consent, injected reasons)."""

from __future__ import annotations

import datetime as dt

import pytest

P = "PROCESSING_ERROR_REASON_"


def stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def counts(status: dict) -> dict[str, int]:
    return {c["reason"]: int(c["recordCount"])
            for c in status.get("errorInfo", {}).get("errorCounts", [])}


def test_processing_then_success(emu, ingest, make_body, retrieve):
    request_id = ingest(make_body()).json()["requestId"]
    first = retrieve(request_id).json()["requestStatusPerDestination"]
    assert [s["requestStatus"] for s in first] == ["PROCESSING"]
    assert "errorInfo" not in first[0] and "warningInfo" not in first[0]
    final = retrieve(request_id).json()["requestStatusPerDestination"][0]
    assert final["requestStatus"] == "SUCCESS"
    assert final["eventsIngestionStatus"] == {"recordCount": "1"}
    assert final["destination"]["operatingAccount"]["accountId"] == "1234567890"
    assert "errorInfo" not in final


@pytest.mark.parametrize("polls", [0, 3])
def test_processing_lasts_a_number_of_polls(emu, ingest, make_body, retrieve, polls):
    emu.processing_polls = polls
    request_id = ingest(make_body()).json()["requestId"]
    seen = [retrieve(request_id).json()["requestStatusPerDestination"][0]["requestStatus"]
            for _ in range(polls + 1)]
    assert seen == ["PROCESSING"] * polls + ["SUCCESS"]


def test_processing_lasts_seconds_of_the_clock(emu, ingest, make_body, retrieve, clock):
    emu.processing_polls, emu.processing_seconds = 0, 1800
    request_id = ingest(make_body()).json()["requestId"]
    status = lambda: retrieve(request_id).json()["requestStatusPerDestination"][0]  # noqa: E731
    assert status()["requestStatus"] == "PROCESSING"
    clock.advance(1799)
    assert status()["requestStatus"] == "PROCESSING"
    clock.advance(1)
    assert status()["requestStatus"] == "SUCCESS"


@pytest.mark.parametrize("param", ["requestId", "request_id"])
def test_the_request_id_parameter(ingest, make_body, retrieve, param):
    request_id = ingest(make_body()).json()["requestId"]
    assert retrieve(request_id, param=param).status_code == 200


@pytest.mark.parametrize("request_id, reason", [(None, "REQUIRED_FIELD_MISSING"),
                                                ("no-such-request", "INVALID_REQUEST_ID")])
def test_a_missing_or_unknown_request_id(retrieve, violation, request_id, reason):
    response = retrieve(request_id)
    assert response.status_code == 400
    assert violation(response)["reason"] == reason


def test_events_too_old(emu, ingest, make_body, make_event, final_status, clock):
    old = make_event("old", eventTimestamp=stamp(clock.now - 91 * 86_400))
    edge = make_event("edge", eventTimestamp=stamp(clock.now - 89 * 86_400))
    status = final_status(ingest(make_body([old, edge])).json()["requestId"])[0]
    assert status["requestStatus"] == "PARTIAL_SUCCESS"
    assert counts(status) == {P + "EVENT_TOO_OLD": 1}
    assert [e["transactionId"] for e in emu.events()] == ["edge"]


def test_duplicate_transaction_ids_across_and_within_requests(emu, ingest, make_body,
                                                              make_event, final_status):
    first = ingest(make_body([make_event("a"), make_event("b")])).json()["requestId"]
    again = ingest(make_body([make_event("a"), make_event("c"), make_event("c")]))
    assert final_status(first)[0]["requestStatus"] == "SUCCESS"
    status = final_status(again.json()["requestId"])[0]
    assert status["requestStatus"] == "PARTIAL_SUCCESS"
    assert status["eventsIngestionStatus"]["recordCount"] == "3"
    assert counts(status) == {P + "DUPLICATE_TRANSACTION_ID": 2}
    assert sorted(e["transactionId"] for e in emu.events()) == ["a", "b", "c"]
    assert emu.errors() == {P + "DUPLICATE_TRANSACTION_ID": 2}


def test_the_same_transaction_id_for_another_conversion_action_is_fine(ingest, make_body,
                                                                        final_status):
    ingest(make_body())
    body = make_body()
    body["destinations"][0]["productDestinationId"] = "999"
    assert final_status(ingest(body).json()["requestId"])[0]["requestStatus"] == "SUCCESS"


def test_a_whole_request_of_duplicates_failed(ingest, make_body, final_status):
    ingest(make_body())
    status = final_status(ingest(make_body()).json()["requestId"])[0]
    assert status["requestStatus"] == "FAILED"
    assert counts(status) == {P + "DUPLICATE_TRANSACTION_ID": 1}


def test_duplicate_gclid_at_the_same_time(emu, ingest, make_body, make_event, final_status):
    ads = {"gclid": "Cj0KCQ-1"}
    ingest(make_body([make_event("x", adIdentifiers=ads)]))
    same = make_event("y", adIdentifiers=ads, eventTimestamp=make_event()["eventTimestamp"])
    status = final_status(ingest(make_body([same])).json()["requestId"])[0]
    assert counts(status) == {P + "DUPLICATE_GCLID": 1}


@pytest.mark.parametrize("request_consent, event_consent, reason", [
    ("CONSENT_DENIED", None, "DENIED_CONSENT"),
    ("CONSENT_GRANTED", "CONSENT_DENIED", "DENIED_CONSENT"),
    ("CONSENT_DENIED", "CONSENT_GRANTED", None),
    (None, None, None),
])
def test_ad_user_data_consent(emu, ingest, make_body, make_event, final_status,
                              request_consent, event_consent, reason):
    event = make_event()
    if event_consent:
        event["consent"] = {"adUserData": event_consent}
    body = make_body([event])
    body["consent"] = {"adUserData": request_consent} if request_consent else None
    status = final_status(ingest(body).json()["requestId"])[0]
    assert counts(status) == ({P + reason: 1} if reason else {})


def test_unknown_consent_when_the_account_has_no_default(emu, ingest, make_body,
                                                         final_status):
    emu.processing.default_consent = None
    body = make_body()
    body["consent"] = None
    status = final_status(ingest(body).json()["requestId"])[0]
    assert counts(status) == {P + "UNKNOWN_CONSENT": 1}


def test_injected_processing_errors(emu, ingest, make_body, make_event, final_status):
    emu.fail_event("b", "CLICK_NOT_FOUND")
    emu.fail_event("c", "PROCESSING_ERROR_OPERATING_ACCOUNT_MISMATCH_FOR_AD_IDENTIFIER")
    events = [make_event("a"), make_event("b"), make_event("c")]
    status = final_status(ingest(make_body(events)).json()["requestId"])[0]
    assert counts(status) == {P + "CLICK_NOT_FOUND": 1,
                              "PROCESSING_ERROR_OPERATING_ACCOUNT_MISMATCH_FOR_AD_IDENTIFIER": 1}
    emu.clear_faults()
    status = final_status(ingest(make_body([make_event("d")])).json()["requestId"])[0]
    assert status["requestStatus"] == "SUCCESS"


def test_events_go_to_the_destinations_they_reference(emu, ingest, make_body, make_event,
                                                      final_status):
    destinations = [
        {"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
         "productDestinationId": "111", "reference": "purchases"},
        {"operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": "1234567890"},
         "productDestinationId": "222", "reference": "leads"}]
    events = [make_event("both"), make_event("lead", destinationReferences=["leads"])]
    request_id = ingest(make_body(events, destinations=destinations)).json()["requestId"]
    statuses = final_status(request_id)
    assert [s["destination"]["reference"] for s in statuses] == ["purchases", "leads"]
    assert [s["eventsIngestionStatus"]["recordCount"] for s in statuses] == ["1", "2"]
    assert [e["transactionId"] for e in emu.events("222")] == ["both", "lead"]
