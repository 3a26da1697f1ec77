"""deliver() against the emulator: the request, PartialErrors mapped by Index, size faults."""

from __future__ import annotations

import json

import pytest

from connector import BatchRejected, Fatal, Outcome, Retryable, registry
from plugins.microsoft.destination import MicrosoftAdsDestination
from plugins.microsoft.emulator import ACCESS_TOKEN, ACCOUNT_ID, CUSTOMER_ID, DEVELOPER_TOKEN


def test_the_plugin_registers_the_destination_with_its_emulator():
    cls = registry.destination("microsoft")
    assert cls is MicrosoftAdsDestination
    assert cls.emulator is not None and cls.emulator.name == "microsoft"
    assert cls.limits.max_events == 1000
    columns = cls.contract.columns()
    assert {"timestamp", "microsoft_click_id", "email", "phone", "order_id", "price",
            "quantity", "value", "currency", "conversion_name"} <= set(columns)
    assert [c.name for c in cls.contract.one_of[0]] == ["microsoft_click_id", "email", "phone"]


def test_delivers_one_request_with_microsofts_headers(make_dest, emulator, batch, conversion):
    dest = make_dest()
    outcome = dest.deliver(batch(conversion(), conversion(MicrosoftClickId="other")))
    assert outcome == Outcome(rejected={}, info={"sent": 2, "rejected": 0})
    [call] = emulator.calls
    assert call.path == "/CampaignManagement/v13/OfflineConversions/Apply"
    assert call.header("Authorization") == f"Bearer {ACCESS_TOKEN}"
    assert call.header("DeveloperToken") == DEVELOPER_TOKEN
    assert call.header("CustomerId") == CUSTOMER_ID
    assert call.header("CustomerAccountId") == ACCOUNT_ID
    assert call.header("Content-Type") == "application/json"
    body = call.json()
    assert list(body) == ["OfflineConversions"] and len(body["OfflineConversions"]) == 2
    accepted = emulator.accepted()
    assert [u.click_id for u in accepted] == ["f894f652ea334e739002f7167ab8f8e3", "other"]
    assert accepted[0].goal_id == "4000123" and accepted[0].value == 125.5


def test_encode_wraps_the_payloads_without_parsing_them(make_dest, batch):
    dest = make_dest(open_it=False)
    assert dest.encode(batch('{"a":1}', '{"b":2}')) == b'{"OfflineConversions":[{"a":1},{"b":2}]}'


def test_partial_errors_become_per_event_rejections_by_index(make_dest, emulator, batch,
                                                              conversion):
    outcome = make_dest().deliver(batch(
        conversion(),
        conversion(ConversionName="No Such Goal"),
        conversion(ConversionTime="2026-10-03T00:00:00Z"),
        conversion(MicrosoftClickId=None, HashedEmailAddress="jane@example.com"),
        conversion(ConversionCurrencyCode="XYZ"),
        conversion(MicrosoftClickId="ok2"),
    ))
    assert sorted(outcome.rejected) == [1, 2, 3, 4]
    assert outcome.rejected[1].startswith("5606 OfflineConversionNameInvalid: ")
    assert outcome.rejected[2].startswith("5614 FutureConversionTimeCannotBeSet")
    assert outcome.rejected[3].startswith("8004 EmailMustBeHashed")
    assert outcome.rejected[4].startswith("5611 OfflineConversionCurrencyCodeInvalid")
    assert outcome.info == {"sent": 6, "rejected": 4}
    assert len(emulator.accepted()) == 2


def test_transient_apply_failure_5612_is_retryable_and_nothing_is_kept(make_dest, emulator,
                                                                        batch, conversion):
    dest = make_dest()
    emulator.fail_apply()
    with pytest.raises(Retryable) as caught:
        dest.deliver(batch(conversion(), conversion(MicrosoftClickId="b")))
    assert "5612 OfflineConversionsApplyFailed" in caught.value.reason
    assert not caught.value.throttled
    assert emulator.accepted() == []
    assert dest.deliver(batch(conversion())).rejected == {}


def test_too_many_conversions_is_a_batch_rejection_the_core_can_split(make_dest, emulator, batch,
                                                                       conversion):
    emulator.max_conversions = 2
    with pytest.raises(BatchRejected) as caught:
        make_dest().deliver(batch(*(conversion(MicrosoftClickId=f"c{i}") for i in range(3))))
    assert "5601" in caught.value.reason


def test_an_empty_request_is_fatal(make_dest, batch):
    with pytest.raises(Fatal) as caught:
        make_dest().deliver(batch())
    assert "5600 OfflineConversionsNullOrEmpty" in caught.value.reason


def test_batch_errors_inside_a_fault_are_per_event(make_dest, emulator, batch, conversion):
    body = {"TrackingId": "t", "Type": "ApiFaultDetail", "OperationErrors": [],
            "BatchErrors": [{"Code": 5606, "ErrorCode": "OfflineConversionNameInvalid",
                             "Message": "m", "Index": "1", "Type": "BatchError"}]}
    emulator.inject(status=400, body=body)
    outcome = make_dest().deliver(batch(conversion(), conversion()))
    assert outcome.rejected == {1: "5606 OfflineConversionNameInvalid: m"}


def test_errors_without_a_usable_index_are_kept_in_info(make_dest, emulator, batch, conversion):
    body = {"PartialErrors": [{"Code": 0, "ErrorCode": "InternalError", "Message": "x",
                               "Index": 7, "Type": "BatchError"}]}
    emulator.inject(status=200, body=body)
    outcome = make_dest().deliver(batch(conversion()))
    assert outcome.rejected == {}
    assert outcome.info["errors_without_index"] == ["0 InternalError: x"]


def test_duplicates_are_accepted_silently_and_kept_for_the_report(make_dest, emulator, batch,
                                                                 conversion):
    dest = make_dest()
    assert dest.deliver(batch(conversion(), conversion())).rejected == {}
    first, second = emulator.accepted()
    assert (first.reason, second.reason) == (None, "DuplicateConversionKey")
    raw = json.loads(conversion())
    assert second.raw == raw
