"""What Google's own formatting library (google-ads-datamanager-util) produces is what the
emulator accepts, in both encodings; skipped when the library is not installed."""

from __future__ import annotations

import pytest

util = pytest.importorskip("google.ads.datamanager_util")


@pytest.mark.parametrize("encoding", ["HEX", "BASE64"])
def test_the_library_output_is_accepted(ingest, make_body, make_event, encoding):
    formatter = util.Formatter()
    enc = util.Encoding[encoding]
    identifiers = [
        {"emailAddress": formatter.process_email_address(" Jane.Doe+x@GoogleMail.com ", enc)},
        {"phoneNumber": formatter.process_phone_number("+1 (800) 555-0100", enc)},
        {"address": {"givenName": formatter.process_given_name(" Jane ", enc),
                     "familyName": formatter.process_family_name("Doe", enc),
                     "regionCode": formatter.process_region_code(" us"),
                     "postalCode": formatter.process_postal_code(" 94043 ")}}]
    event = make_event(userData={"userIdentifiers": identifiers})
    response = ingest(make_body([event], encoding=encoding))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("encoding", ["HEX", "BASE64"])
def test_the_library_output_in_the_wrong_encoding_is_refused(ingest, make_body, make_event,
                                                             violation, encoding):
    formatter = util.Formatter()
    other = util.Encoding.BASE64 if encoding == "HEX" else util.Encoding.HEX
    value = formatter.process_email_address("jane@example.com", other)
    event = make_event(userData={"userIdentifiers": [{"emailAddress": value}]})
    response = ingest(make_body([event], encoding=encoding))
    assert response.status_code == 400
    assert violation(response)["field"].endswith("user_identifiers[0].email_address")
