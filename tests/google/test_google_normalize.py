"""Google's normalization in DuckDB (``connector.kit.pii``'s google functions, as the
google shaping composes them), hash for hash against Google's own formatting library
(``google-ads-datamanager-util``) where the library and Google's formatting guide agree,
and against the guide where it asks for more than the library does."""

from __future__ import annotations

import hashlib

import pytest
from google.ads.datamanager_util import Encoding, Formatter

from tests.google.destination_support import row, sent, shape

FORMAT = Formatter()


def identifiers(payload: dict) -> dict[str, object]:
    out: dict[str, object] = {}
    for identifier in payload["userData"]["userIdentifiers"]:
        out.update(identifier)
    return out


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# Inputs on which the guide and the library agree (no inner whitespace in emails,
# phones that carry their country code, names without titles or punctuation).
AGREED = [
    {"email": "Jane.Doe@Example.com", "phone": "+1 (650) 555-1212", "given_name": " Jane ",
     "surname": "DOE", "postal": "94043", "country": "US"},
    {"email": "  cloudy.sanfrancisco+shopping@gmail.com", "phone": "+44 7700 900123",
     "given_name": "Zoë", "surname": "Müller", "postal": "SW1A 1AA", "country": "GB"},
    {"email": "user.name+NYC@Example.com", "phone": "+33 1 23 45 67 89",
     "given_name": "José", "surname": "García López", "postal": "75001", "country": "FR"},
    {"email": "First.Last@GoogleMail.com", "phone": "+81 3-1234-5678", "given_name": "Ann",
     "surname": "van der Berg", "postal": "100-0001", "country": "JP"},
]


@pytest.fixture(scope="module")
def agreed(tmp_path_factory) -> dict[str, dict]:
    rows = [row(f"o-{i}", **fields) for i, fields in enumerate(AGREED)]
    return shape(tmp_path_factory.mktemp("agreed"), rows)


@pytest.mark.parametrize("i", range(len(AGREED)))
def test_hashes_match_googles_formatting_library(agreed, i) -> None:
    fields = AGREED[i]
    got = identifiers(sent(agreed, f"o-{i}"))
    assert got["emailAddress"] == FORMAT.process_email_address(fields["email"], Encoding.HEX)
    assert got["phoneNumber"] == FORMAT.process_phone_number(fields["phone"], Encoding.HEX)
    address = got["address"]
    assert address["givenName"] == FORMAT.process_given_name(fields["given_name"], Encoding.HEX)
    assert address["familyName"] == FORMAT.process_family_name(fields["surname"],
                                                               Encoding.HEX)
    assert address["regionCode"] == FORMAT.process_region_code(fields["country"])
    if fields["country"] != "US":  # the US takes 5 digits: the library keeps what it gets
        assert address["postalCode"] == FORMAT.process_postal_code(fields["postal"])


def test_base64_encoding_matches_the_library(tmp_path) -> None:
    fields = AGREED[0]
    got = identifiers(sent(shape(tmp_path, [row("o", **fields)], encoding="BASE64"), "o"))
    assert got["emailAddress"] == FORMAT.process_email_address(fields["email"],
                                                               Encoding.BASE64)
    assert got["address"]["familyName"] == FORMAT.process_family_name(fields["surname"],
                                                                      Encoding.BASE64)


# Where the guide asks for more than the library: the guide wins.
GUIDE = [
    ("email", "jane doe @example.com", "emailAddress", "janedoe@example.com"),  # inner spaces
    ("email", "J.A.N.E+promo@Gmail.com", "emailAddress", "jane@gmail.com"),
    ("phone", "(650) 555-1212", "phoneNumber", "+16505551212"),  # the country's code added
    ("phone", "001 650 555 1212", "phoneNumber", "+16505551212"),  # 00 is the + prefix
]


@pytest.mark.parametrize(("column", "value", "field", "normalized"), GUIDE)
def test_the_guide_wins_where_the_library_does_less(tmp_path, column, value, field,
                                                    normalized) -> None:
    got = identifiers(sent(shape(tmp_path, [row("o", **{column: value})]), "o"))
    assert got[field] == sha(normalized)


def test_a_national_phone_takes_the_rows_country_else_the_default(tmp_path) -> None:
    rows = [row("gb", phone="07700 900123", country="United Kingdom"),
            row("none", phone="07700 900123", country=None, given_name=None, surname=None,
                postal=None)]
    events = shape(tmp_path, rows, default_country="GB")
    assert identifiers(sent(events, "gb"))["phoneNumber"] == sha("+447700900123")
    assert identifiers(sent(events, "none"))["phoneNumber"] == sha("+447700900123")


def test_names_lose_titles_suffixes_and_punctuation_per_the_guide(tmp_path) -> None:
    events = shape(tmp_path, [row("o", given_name="Mrs. Jane", surname="O'Brien Jr.")])
    address = identifiers(sent(events, "o"))["address"]
    assert (address["givenName"], address["familyName"]) == (sha("jane"), sha("obrien"))


def test_postal_codes_are_plain_and_us_codes_five_digits(tmp_path) -> None:
    rows = [row("zip4", postal="94043-1234"), row("gb", postal=" sw1a   1aa ", country="gb"),
            row("bad", postal="ABCDE")]
    events = shape(tmp_path, rows)
    assert identifiers(sent(events, "zip4"))["address"]["postalCode"] == "94043"
    assert identifiers(sent(events, "gb"))["address"]["postalCode"] == "SW1A 1AA"
    assert "address" not in identifiers(sent(events, "bad"))  # no address Google would refuse


def test_a_value_that_already_is_a_sha256_passes_through(tmp_path) -> None:
    digest = sha("jane@example.com").upper()
    got = identifiers(sent(shape(tmp_path, [row("o", email=digest)]), "o"))
    assert got["emailAddress"] == digest.lower()
