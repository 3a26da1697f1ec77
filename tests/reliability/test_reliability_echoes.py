"""An API may echo a value it was sent in its error message: a hashed email, a user
agent, an email or an IP address. offramp stores and shows the API's words and codes,
never the value: not in the state file, not in ``offramp rejects``, not on screen."""

from __future__ import annotations

import json

import requests
from reliability_kit import QUERY, GatedMeta, Shop, cli, offramp

from connector import Fault
from connector.engines.warehouse import connect_state

NOT_SHOWN = "(value not shown)"
#: Order -> the message Meta answers a request holding it with; braces name what the
#: emulator echoes from the event it was sent.
ECHOES = {
    "o00003": "Invalid value '{user_data.em}' for parameter em.",
    "o00007": "The user agent {user_data.client_user_agent} is not valid.",
    "o00011": "external_id {user_data.external_id} belongs to another user.",
}
READABLE = {
    "o00003": f"Meta error 100: Invalid value {NOT_SHOWN} for parameter em.",
    "o00007": f"Meta error 100: The user agent {NOT_SHOWN} is not valid.",
    "o00011": f"Meta error 100: external_id {NOT_SHOWN} belongs to another user.",
}
#: Each order's own user agent: a value of the customer's browser.
AGENT = ("'Mozilla/5.0 (X11; Linux x86_64; rv:' || substr(order_id, 2) || ') "
         "Gecko/20100101 Firefox/120.0'")


def sent_values(emu: GatedMeta) -> set[str]:
    """The values the emulator echoed: what the requests sent in the parameter each
    echoing order's message names."""
    values = set()
    for call in emu.arrived:
        for event in json.loads(call.form().get("data", "[]")):
            message = ECHOES.get(event["custom_data"]["order_id"])
            if message is not None:
                field = message[message.index("{user_data.") + 11:message.index("}")]
                value = event["user_data"][field]
                values.add(value[0] if isinstance(value, list) else value)
    return values


def echoed_by_the_emulator(emu: GatedMeta) -> str:
    """The error messages the emulator answers the requests that held one echoing order
    with, each request sent again as it came."""
    answers = []
    for call in list(emu.arrived):  # the requests sent again arrive too
        orders = [e["custom_data"]["order_id"] for e in json.loads(call.form()["data"])]
        if len(orders) == 1 and orders[0] in ECHOES:
            answer = requests.post(emu.url + call.path, data=call.body, timeout=10,
                                   headers={k: v for k, v in call.headers.items()
                                            if k in ("content-type", "authorization")})
            answers.append(answer.json()["error"]["error_user_msg"])
    assert len(answers) == len(ECHOES)
    return "\n".join(answers)


def state_text_and_bytes(shop: Shop) -> tuple[str, bytes]:
    path = shop.project.state_path("sync")
    con = connect_state(path, write=True)
    con.execute("CHECKPOINT state")
    con.close()
    return shop.dump_state(), path.read_bytes()


def test_values_an_api_echoes_never_reach_the_state_file_rejects_or_output(
        shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(40)
    query = QUERY.replace(" FROM orders", f", {AGENT} AS client_user_agent FROM orders")
    shop.write_job(sql=query.format(where=""))
    for order_id, message in ECHOES.items():
        emu.poison(order_id, message=message)

    ran = offramp(shop, "run", "sync")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    values = sent_values(emu)
    assert len(values) == len(ECHOES) and all(len(v) > 30 for v in values)
    echoed = echoed_by_the_emulator(emu)
    assert all(value in echoed for value in values)  # Meta's answers did quote them
    assert "rejected 3" in ran.stdout
    flat = " ".join(ran.stdout.split())
    for reason in READABLE.values():  # the API's words stay, by reason
        assert reason in flat, flat

    rejects = cli(shop, "rejects", "sync", "--format", "json")
    assert rejects.exit_code == 0, rejects.output
    listed = {r["event_key"]: r["reason"] for r in json.loads(rejects.output)}
    assert listed == READABLE
    exports = [rejects.output]
    for fmt in ("csv", "table"):
        result = cli(shop, "rejects", "sync", "--format", fmt)
        assert result.exit_code == 0, result.output
        exports.append(result.output)
    runs = cli(shop, "runs", "sync", "--format", "json")
    exports += [runs.output, runs.stderr]
    text, raw = state_text_and_bytes(shop)
    for value in values:
        for shown in (ran.stdout, ran.stderr, *exports, text):
            assert value not in shown, (value, shown)
        assert value.encode() not in raw, value


def test_an_email_and_an_ip_address_in_a_fatal_answer_are_not_stored(
        shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(10)
    shop.write_job()
    email, address = "someone@example.com", "203.0.113.77"
    emu.inject(Fault(status=403, body={"error": {
        "message": f"(#200) The user {email} at {address} may not send events",
        "type": "OAuthException", "code": 200}}))

    ran = offramp(shop, "run", "sync")
    assert ran.returncode == 1
    said = " ".join((ran.stdout + ran.stderr).split())
    assert (f"Meta error 200: (#200) The user {NOT_SHOWN} at {NOT_SHOWN} may not send "
            "events") in said, said
    assert "may not send events to dataset 1234567890" in said  # the job's own id stays
    (run,) = shop.runs()
    assert run["status"] == "failed" and f"The user {NOT_SHOWN} at {NOT_SHOWN}" in run["error"]
    listing = cli(shop, "runs", "--format", "json")
    text, raw = state_text_and_bytes(shop)
    for value in (email, address):
        for shown in (said, listing.output, text):
            assert value not in shown, (value, shown)
        assert value.encode() not in raw, value
