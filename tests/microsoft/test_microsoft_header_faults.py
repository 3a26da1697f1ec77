"""Header and account faults: each documented code stops the run with a message naming
the setting to fix, whichever list holds the code (``Errors``, ``OperationErrors``) and
whichever envelope carries the fault (the body itself, or ``{"ApplicationFault": ...}``)."""

from __future__ import annotations

import pytest

from connector import Fatal

ENVELOPES = ["top", "wrapped"]


@pytest.fixture(params=ENVELOPES)
def envelope(request, emulator) -> str:
    emulator.envelope = request.param
    return request.param


@pytest.mark.parametrize("settings, needle", [
    ({"customer_id": "999"}, "does not know customer 999 (1490 "),
    ({"account_id": "111"}, "does not know account 111 (1102 "),
])
def test_unknown_ids_name_the_setting(make_dest, batch, conversion, envelope, settings, needle):
    with pytest.raises(Fatal) as caught:
        make_dest(**settings).deliver(batch(conversion()))
    assert needle in caught.value.reason
    assert f"check {next(iter(settings))} in [settings]" in caught.value.reason


@pytest.mark.parametrize("code, operation, needle", [
    (1029, True, "set customer_id in [settings]"),
    (1029, False, "set customer_id in [settings]"),  # the same code in Errors[]
    (1030, True, "set account_id in [settings]"),
    (1009, True, "set account_id in [settings]"),
    (116, False, "MSADS_ACCESS_TOKEN, MSADS_DEVELOPER_TOKEN, customer_id and account_id"),
    (105, False, "check the access token in MSADS_ACCESS_TOKEN"),
    (106, False, "check customer_id and account_id in [settings]"),
])
def test_each_code_names_what_to_fix(make_dest, emulator, batch, conversion, envelope, code,
                                     operation, needle):
    dest = make_dest()
    emulator.fault_code(code, status=400, operation=operation)
    with pytest.raises(Fatal) as caught:
        dest.deliver(batch(conversion()))
    assert needle in caught.value.reason and str(code) in caught.value.reason


def test_the_authentication_fault_reading_of_an_unknown_customer(make_dest, emulator, batch,
                                                                 conversion):
    emulator.invalid_customer = "auth_fault"
    with pytest.raises(Fatal, match="does not know customer 999.*check customer_id"):
        make_dest(customer_id="999").deliver(batch(conversion()))


def test_a_wrapped_fault_with_batch_errors_only_rejects_items(make_dest, emulator, batch,
                                                              conversion):
    dest = make_dest()
    fault = {"Type": "ApiFaultDetail", "TrackingId": "t", "OperationErrors": [],
             "BatchErrors": [{"Code": 5604, "ErrorCode": "OfflineConversionMicrosoftClickIdInvalid",
                              "Message": "The Microsoft Click Id is invalid.", "Index": 1,
                              "Type": "BatchError",
                              "ForwardCompatibilityMap": [{"key": "k", "value": "v"}]}]}
    emulator.inject(status=400, body={"ApplicationFault": fault}, path="/CampaignManagement")
    outcome = dest.deliver(batch(conversion(), conversion(MicrosoftClickId="x")))
    assert outcome.rejected == {1: "5604 OfflineConversionMicrosoftClickIdInvalid: The "
                                   "Microsoft Click Id is invalid."}
