"""``connector.kit.safe_reason``: an API's reason text keeps its words and codes but
never a value the API echoed from the request; and the Deliverer passes every reason a
destination gives through it, so no plugin, built-in or not, can store such a value."""

from __future__ import annotations

import pydantic
import pytest

from connector import Limits, Outcome, Settings, safe_reason
from connector.kit.errors import BatchRejected, Fatal, Retryable, Unconfirmed
from connector.kit.secrets import NOT_SHOWN, REASON_LENGTH, remember

from .test_delivery import Scripted, deliver_one

X = NOT_SHOWN
HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

#: (what an API said, what offramp keeps of it)
MASKED = [
    ("Invalid value 'someone@example.com' for field em", f"Invalid value {X} for field em"),
    ('Invalid value "Ann Smith" for parameter fn', f"Invalid value {X} for parameter fn"),
    ("field `ct` holds `seattle`", f"field {X} holds {X}"),
    ("\u201cJohn\u201d is not a hashed value", f"{X} is not a hashed value"),
    ("The email someone@example.com is taken", f"The email {X} is taken"),
    ("ph +1 (555) 010-9999 is invalid", f"ph {X} is invalid"),
    ("ph 5550109999 is invalid", f"ph {X} is invalid"),
    ("ph 555-0199 is invalid", f"ph {X} is invalid"),
    ("client_ip_address 203.0.113.77 is invalid", f"client_ip_address {X} is invalid"),
    ("client_ip_address 2001:db8::8a2e:370:7334 is invalid", f"client_ip_address {X} is invalid"),
    (f"em {HASH} already matched", f"em {X} already matched"),
    (f"em {HASH.upper()[:32]} already matched", f"em {X} already matched"),
    ("key n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg= is invalid", f"key {X} is invalid"),
    ("user agent Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0 is "
     "invalid", f"user agent {X} is invalid"),
]

#: Reasons that stay as they are: words, codes, counts, dates, field names, addresses.
READABLE = [
    "Meta error 100/2804003: The timestamp for this event is too far in the past.",
    "Meta's users' data isn't valid",
    "Google refused the request (INVALID_ARGUMENT: events[3].user_data.email_address)",
    "HTTP 429 from Meta; 1,000 events; 429 1000",
    "gave up after 6 attempts: HTTP 503 from Meta",
    "Meta acknowledged 700 of the 1,000 events of a request, without saying which",
    "the event of 2026-12-05 12:17:00 is late by 01:02:03",
    "could not reach http://127.0.0.1:8080/v19.0/1234567890/events: Connection refused",
    "set META_ACCESS_TOKEN; is_consolidated_container is false; HTTP/1.1 503",
    "see https://developers.facebook.com/docs/marketing-api/error-reference.",
    "",
]


@pytest.mark.parametrize(("said", "kept"), MASKED)
def test_each_kind_of_echoed_value_is_masked(said: str, kept: str) -> None:
    assert safe_reason(said) == kept


@pytest.mark.parametrize("said", READABLE)
def test_the_api_words_codes_and_dates_stay_readable(said: str) -> None:
    assert safe_reason(said) == said


def test_a_query_string_is_scrubbed_but_the_address_kept() -> None:
    said = "http://127.0.0.1:8080/v1/events?email=ann@example.com failed"
    assert safe_reason(said) == f"http://127.0.0.1:8080/v1/events?email={X} failed"


def test_secrets_are_scrubbed_too() -> None:
    remember("tok-1a2b3c-safe-reason")
    assert safe_reason("bad token tok-1a2b3c-safe-reason") == "bad token ***"


def test_the_reason_is_cut_to_a_bounded_length() -> None:
    cut = safe_reason("word " * 1000)
    assert len(cut) <= REASON_LENGTH and cut.endswith("…")
    assert len(safe_reason("word " * 100, longest=40)) <= 40


def test_kept_values_are_shown_whole_only() -> None:
    said = "account 1112223333 and 1234567890 and 5550109999 and '111-222-3333'"
    kept = safe_reason(said, keep=["111-222-3333", "1234567890"])
    assert kept == f"account 1112223333 and 1234567890 and {X} and '111-222-3333'"


class IdSettings(Settings):
    account_id: str = "111-222-3333"
    routes: dict[str, str] = pydantic.Field(default_factory=lambda: {"store": "987654321012"})


EMAIL = "someone@example.com"


@pytest.mark.parametrize("answer", [
    lambda b, n: Outcome(rejected={1: f"Invalid value '{EMAIL}' for em"}),
    lambda b, n: BatchRejected(f"Invalid value {EMAIL} for em"),
    lambda b, n: Unconfirmed(f"took part of it, {EMAIL}"),
    lambda b, n: Fatal(f"account 111-222-3333 (store 987654321012) refused {EMAIL}"),
    lambda b, n: Retryable(f"HTTP 503 for {EMAIL}"),
], ids=["outcome", "batch_rejected", "unconfirmed", "fatal", "retryable"])
def test_every_reason_a_destination_gives_is_made_safe(sleeps, answer) -> None:
    dest = Scripted(answer)
    dest.settings = IdSettings()
    result = deliver_one(dest, Limits(max_attempts=2), sleeps, keys=["k0", "k1"])
    reasons = [*result.rejected.values(), result.failure or "", result.fatal or ""]
    assert any(X in r for r in reasons), reasons
    assert not any(EMAIL in r for r in reasons), reasons
    if result.fatal:  # the job's own ids are not customer data: they stay
        assert "account 111-222-3333 (store 987654321012)" in result.fatal

