"""Assign mode: campaigns assigned in one call, refused ones rejected by index with a
reason, validation errors isolated, and mirror mode's removals."""

from __future__ import annotations

import pytest
import requests

from connector import BatchRejected, Fault
from plugins.iqm.shaping import MIRROR_KEY, MIRROR_ROUTE
from tests.iqm.iqm_support import api_calls, batch, campaigns

ASSIGN = "/api/v3/conversion/assign-to/campaign"


def mirror_event(*ids: int) -> object:
    payload = '{"campaign_ids":[' + ",".join(map(str, ids)) + ']}'
    return batch([payload], keys=[MIRROR_KEY], route=MIRROR_ROUTE)


def test_assigns_the_batch_in_one_post(make, emu):
    dest = make()
    outcome = dest.deliver(campaigns(1001, 1002))
    (call,) = api_calls(emu, ASSIGN)
    assert call.method == "POST"
    assert call.json() == {"conversionIdList": [dest.conversion.id],
                           "addCampaignsList": [1001, 1002], "removeCampaignsList": []}
    assert outcome.rejected == {}
    assert outcome.info["assigned"] == 2
    assert emu.conversion_named("Offline orders")[0].campaigns == {1001, 1002}


def test_campaigns_iqm_refuses_become_rejections_by_index(make, emu):
    dest = make()
    outcome = dest.deliver(campaigns(2001, 1001, 424242, 2002))
    assert set(outcome.rejected) == {0, 2, 3}
    assert outcome.rejected[0].startswith("campaign 2001 is not a draft campaign")
    assert "campaign 424242 is not a draft campaign" in outcome.rejected[2]
    assert "only before a campaign runs" in outcome.rejected[3]
    assert emu.conversion_named("Offline orders")[0].campaigns == {1001}


def test_unconfirmed_campaigns_are_not_counted_as_delivered(make, emu):
    dest = make()
    emu.inject(Fault(status=200, path=ASSIGN, body={"success": True, "data": {
        "conversionIdsList": dest.conversion.id, "validAddCampaignIdsList": [1001],
        "invalidAddCampaignIdsList": []}}))
    outcome = dest.deliver(campaigns(1001, 1002))
    assert outcome.rejected == {1: "IQM did not confirm the assignment to campaign 1002"}


def test_a_validation_error_on_one_campaign_is_its_rejection(make, emu):
    dest = make()
    emu.inject(Fault(status=422, path=ASSIGN, body={"success": False, "errorObjects": [
        {"error": "Campaign ID 1001 exceeds the maximum limit", "field": "addCampaignsList"}]}))
    outcome = dest.deliver(campaigns(1001))
    assert outcome.rejected == {0: "IQM refused campaign 1001: Campaign ID 1001 exceeds the "
                                   "maximum limit (field addCampaignsList)"}


def test_a_validation_error_on_many_campaigns_asks_the_core_to_split(make, emu):
    dest = make()
    emu.inject(Fault(status=400, path=ASSIGN, body={"success": False, "errorObjects": [
        {"error": "bad campaign list"}]}))
    with pytest.raises(BatchRejected, match="bad campaign list"):
        dest.deliver(campaigns(1001, 1002))


def test_success_false_with_200_is_still_an_error(make, emu):
    dest = make()
    emu.inject(Fault(status=200, path=ASSIGN, body={"success": False, "errorObjects": [
        {"error": "Invalid campaign"}]}))
    outcome = dest.deliver(campaigns(1001))
    assert outcome.rejected == {0: "IQM refused campaign 1001: Invalid campaign"}


def test_emulator_accepts_patch_for_old_clients(make, emu):
    dest = make()
    token = dest.client.token
    response = requests.patch(emu.url + ASSIGN, json={
        "conversionIdList": [dest.conversion.id], "addCampaignsList": [1003]},
        headers={"Authorization": f"Bearer {token.access.reveal()}",
                 "X-IAA-OW-ID": str(token.ow_id)}, timeout=5)
    assert response.status_code == 200
    assert response.json()["data"]["validAddCampaignIdsList"] == [1003]


def test_mirror_lists_attached_campaigns_and_removes_the_others(make, emu):
    make().deliver(campaigns(1001, 1002, 1003))
    dest = make(mirror=True)
    assert not api_calls(emu, "/api/v3/conversion/attached/campaigns/list")
    outcome = dest.deliver(mirror_event(1001))
    (listing,) = api_calls(emu, "/api/v3/conversion/attached/campaigns/list")
    assert listing.arg("conversionId") == str(dest.conversion.id)
    assert outcome.rejected == {}
    assert outcome.info["attached"] == 3 and outcome.info["removed"] == 2
    last = api_calls(emu, ASSIGN)[-1].json()
    assert last["addCampaignsList"] == [] and last["removeCampaignsList"] == [1002, 1003]
    assert emu.conversion_named("Offline orders")[0].campaigns == {1001}


def test_mirror_with_nothing_to_remove_sends_nothing(make, emu):
    make().deliver(campaigns(1001))
    dest = make(mirror=True)
    before = len(api_calls(emu, ASSIGN))
    outcome = dest.deliver(mirror_event(1001, 1002))
    assert outcome.info["removed"] == 0
    assert len(api_calls(emu, ASSIGN)) == before


def test_mirror_keeps_campaigns_assigned_in_the_same_run(make, emu):
    dest = make(mirror=True)
    dest.deliver(campaigns(1001, 1002))
    outcome = dest.deliver(mirror_event(1001, 1002))
    assert outcome.info["removed"] == 0
    assert emu.conversion_named("Offline orders")[0].campaigns == {1001, 1002}


def test_mirror_rejects_when_a_running_campaign_keeps_the_conversion(make, emu):
    make().deliver(campaigns(1001, 1002))
    emu.set_campaign(1002, "running")
    dest = make(mirror=True)
    outcome = dest.deliver(mirror_event(1003))
    assert outcome.info["removed"] == 1 and outcome.info["not_removed"] == [1002]
    assert outcome.rejected == {0: f"IQM did not remove conversion {dest.conversion.id} from "
                                   "campaigns 1002: conversions can be removed only before a "
                                   "campaign runs"}
