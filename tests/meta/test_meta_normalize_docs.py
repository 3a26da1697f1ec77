"""Customer information where Meta's docs ask more than Meta's SDK does, and the
rules around hashing: already-hashed values, blanks, unhashed fields, ``hashing =
false``. Each case is one order through the destination's shaping query.

Docs: customer-information-parameters (``shared/reference/meta_capi.md`` section 9):
phone numbers must include the country code, ``db`` is YYYYMMDD, ``ge`` is m/f,
``st`` a 2-letter code for US states, ``country`` ISO alpha-2, US ``zp`` 5 digits,
no punctuation in names and cities.
"""

from __future__ import annotations

import hashlib
import re

import pyarrow as pa
import pytest

from tests.meta.conftest import rejected, row, sent, shape_rows, table

#: column -> user_data key.
KEYS = {"email": "em", "phone": "ph", "given_name": "fn", "surname": "ln", "birthdate": "db",
        "gender": "ge", "city": "ct", "state": "st", "postal": "zp", "country": "country",
        "external_id": "external_id"}
UNHASHED = {"client_user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
            "fbc": "fb.1.1554763741205.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB",
            "fbp": "fb.1.1558571054389.1098115397",
            "madid": "38400000-8cf0-11bd-b23e-10b96e40000d"}


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# (case id, columns of the row, user_data key, the normalized value the docs ask for)
DOCS_CASES = [
    ("ph-national-us", {"phone": "(650) 555-1212"}, "ph", "16505551212"),
    ("ph-dots", {"phone": "650.555.1212"}, "ph", "16505551212"),
    ("ph-dashes", {"phone": "650-555-1212"}, "ph", "16505551212"),
    ("ph-nanp-with-1", {"phone": "1 650 555 1212"}, "ph", "16505551212"),
    ("ph-row-country-gb", {"phone": "020 7946 0958", "country": "GB"}, "ph", "442079460958"),
    ("ph-row-country-name", {"phone": "06 12 34 56 78", "country": "France"}, "ph",
     "33612345678"),
    ("ph-plus-wins", {"phone": "+44 20 7946 0958", "country": "US"}, "ph", "442079460958"),
    ("ph-00-prefix", {"phone": "0049 30 1234567"}, "ph", "49301234567"),
    ("db-us-slashes", {"birthdate": "2/16/1997"}, "db", "19970216"),
    ("db-iso", {"birthdate": "1997-02-16"}, "db", "19970216"),
    ("db-dotted", {"birthdate": "16.02.1997"}, "db", "19970216"),
    ("db-short-month", {"birthdate": "Feb 16, 1997"}, "db", "19970216"),
    ("db-long-month", {"birthdate": "February 16, 1997"}, "db", "19970216"),
    ("db-yyyy-slashes", {"birthdate": "1997/02/16"}, "db", "19970216"),
    ("ge-female", {"gender": "Female"}, "ge", "f"),
    ("ge-male", {"gender": "MALE"}, "ge", "m"),
    ("ge-woman", {"gender": "woman"}, "ge", "f"),
    ("ge-man", {"gender": " Man "}, "ge", "m"),
    ("st-california", {"state": "California"}, "st", "ca"),
    ("st-new-york", {"state": "new york"}, "st", "ny"),
    ("st-abbreviation", {"state": "Calif."}, "st", "ca"),
    ("st-texas", {"state": "TEXAS"}, "st", "tx"),
    ("st-ontario", {"state": "Ontario", "country": "CA"}, "st", "on"),
    ("country-name", {"country": "United States"}, "country", "us"),
    ("country-alpha3", {"country": "USA"}, "country", "us"),
    ("country-dotted", {"country": "U.S.A."}, "country", "us"),
    ("country-uk", {"country": "United Kingdom"}, "country", "gb"),
    ("country-germany", {"country": "Germany"}, "country", "de"),
    ("country-default", {}, "country", "us"),
    ("zp-plus-four", {"postal": "94025-1234"}, "zp", "94025"),
    ("zp-plus-four-space", {"postal": "94025 1234"}, "zp", "94025"),
    ("zp-gb", {"postal": "SW1A 1AA", "country": "GB"}, "zp", "sw1a1aa"),
    ("fn-apostrophe", {"given_name": "O'Brien"}, "fn", "obrien"),
    ("fn-hyphen", {"given_name": "Mary-Jane"}, "fn", "maryjane"),
    ("ln-hyphen", {"surname": "Smith-Jones"}, "ln", "smithjones"),
    ("ct-apostrophe", {"city": "Coeur d'Alene"}, "ct", "coeurdalene"),
    ("external-id-trimmed", {"external_id": " Cust-42 "}, "external_id", "Cust-42"),
]
# Values the docs' rules cannot use: the key is left out, never hashed as given.
DROPPED_CASES = [
    ("ge-unknown", {"gender": "unknown"}, "ge"),
    ("ge-x", {"gender": "X"}, "ge"),
    ("db-not-a-date", {"birthdate": "sometime in 1997"}, "db"),
    ("db-impossible", {"birthdate": "2/30/1997"}, "db"),
    ("em-not-an-email", {"email": "jane at example dot com"}, "em"),
    ("ph-too-short", {"phone": "12345"}, "ph"),
]


@pytest.fixture(scope="module")
def docs_events(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """default_country = "US"; one order per case."""
    rows = [row(case, **columns) for case, columns, _, _ in DOCS_CASES]
    rows += [row(case, **columns) for case, columns, _ in DROPPED_CASES]
    rows.append(row("no-country-setting-needed", phone="+1 650 555 1212"))
    return shape_rows(tmp_path_factory.mktemp("docs"), rows, default_country="US")


@pytest.mark.parametrize("case, columns, key, expected",
                         DOCS_CASES, ids=[c[0] for c in DOCS_CASES])
def test_the_docs_normalization(docs_events, case, columns, key, expected) -> None:
    assert sent(docs_events, case)["user_data"][key] == sha(expected)


@pytest.mark.parametrize("case, columns, key", DROPPED_CASES, ids=[c[0] for c in DROPPED_CASES])
def test_unusable_values_are_left_out(docs_events, case, columns, key) -> None:
    user_data = sent(docs_events, case)["user_data"]
    assert key not in user_data
    assert user_data["external_id"] == sha("cust-1")  # the rest of the event is intact


# Zip codes in a number column lost their leading zeros in the warehouse.
NUMERIC_ZIPS = [
    ("zip-lost-its-zero", {"postal": 2134}, "02134"),
    ("zip-plus-four-lost-its-zero", {"postal": 21341234}, "02134"),
    ("zip-puerto-rico", {"postal": 901}, "00901"),
    ("zip-whole", {"postal": 94025}, "94025"),
    ("zip-outside-the-us-as-it-is", {"postal": 1067, "country": "DE"}, "1067"),
]


@pytest.mark.parametrize("arrow_type", [pa.int64(), pa.int32(), pa.float64(), pa.decimal128(9, 0)])
def test_us_zip_codes_stored_as_numbers_get_their_leading_zeros_back(
        tmp_path, arrow_type: pa.DataType) -> None:
    rows = [row(case, **columns) for case, columns, _ in NUMERIC_ZIPS]
    events = shape_rows(tmp_path, table(rows, {"postal": arrow_type}), default_country="US")
    for case, _, expected in NUMERIC_ZIPS:
        assert sent(events, case)["user_data"]["zp"] == sha(expected), case


def test_zip_codes_stored_as_text_are_taken_as_they_are(tmp_path) -> None:
    """Text keeps what the warehouse kept: only numbers lost their zeros."""
    events = shape_rows(tmp_path, [row("text-zip", postal="2134")], default_country="US")
    assert sent(events, "text-zip")["user_data"]["zp"] == sha("2134")


@pytest.fixture(scope="module")
def plain_events(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """No default_country; blanks, pre-hashed values, unhashed fields."""
    blanks = {column: blank for column, blank in zip(
        [*KEYS, *UNHASHED], ["", "  ", "\t", "", " ", "", "\n", "", "  ", "", " ", "", "",
                             " ", ""], strict=True)}
    hashed = {column: sha(f"value of {column}").upper() for column in KEYS}
    rows = [
        row("no-country", phone="(650) 555-1212"),
        row("blank-everything-but-phone", **{**blanks, "phone": "+1 650 555 1212"}),
        row("blank-everything-but-email", **{**blanks, "email": "jane@example.com"}),
        row("blank-email-and-phone", email="  ", phone=""),
        row("null-email-and-phone", email=None, phone=None),
        row("pre-hashed", **hashed),
        row("unhashed", **UNHASHED),
    ]
    return shape_rows(tmp_path_factory.mktemp("plain"), rows)


def test_without_a_country_a_national_number_is_hashed_as_it_is(plain_events) -> None:
    user_data = sent(plain_events, "no-country")["user_data"]
    assert user_data["ph"] == sha("6505551212")
    assert "country" not in user_data


@pytest.mark.parametrize("case, kept", [("blank-everything-but-phone", "ph"),
                                        ("blank-everything-but-email", "em")])
def test_blank_values_are_dropped_never_hashed(plain_events, case, kept) -> None:
    user_data = sent(plain_events, case)["user_data"]
    assert set(user_data) == {kept}
    assert sha("") not in user_data.values() and sha(" ") not in user_data.values()


@pytest.mark.parametrize("case", ["blank-email-and-phone", "null-email-and-phone"])
def test_no_email_and_no_phone_is_rejected(plain_events, case) -> None:
    assert rejected(plain_events, case) == \
        "no usable email or phone (missing or invalid after normalization)"


def test_already_hashed_values_pass_through_lowercased(plain_events) -> None:
    user_data = sent(plain_events, "pre-hashed")["user_data"]
    assert {key: user_data[key] for key in KEYS.values()} == \
        {key: sha(f"value of {column}") for column, key in KEYS.items()}


def test_client_user_agent_fbc_fbp_madid_are_sent_unhashed(plain_events) -> None:
    user_data = sent(plain_events, "unhashed")["user_data"]
    for column, value in UNHASHED.items():
        assert user_data[column] == value
        assert not re.fullmatch(r"[0-9a-f]{64}", user_data[column])


@pytest.fixture(scope="module")
def prehashed_events(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """hashing = false: the warehouse already holds SHA-256 values."""
    rows = [
        row("hashed-email-plain-phone", email=sha("jane@example.com").upper(),
            phone="+1 650 555 1212", external_id=sha("cust-1")),
        row("all-plain", email="jane@example.com", phone="+1 650 555 1212"),
        row("hashed-everything", **{c: sha(c) for c in KEYS}, **UNHASHED),
    ]
    return shape_rows(tmp_path_factory.mktemp("prehashed"), rows, hashing=False)


def test_hashing_off_sends_only_sha256_values(prehashed_events) -> None:
    user_data = sent(prehashed_events, "hashed-email-plain-phone")["user_data"]
    assert user_data == {"em": sha("jane@example.com"), "external_id": sha("cust-1")}


def test_hashing_off_with_nothing_hashed_is_rejected(prehashed_events) -> None:
    assert rejected(prehashed_events, "all-plain").startswith("no usable email or phone")


def test_hashing_off_passes_hashes_and_unhashed_fields(prehashed_events) -> None:
    user_data = sent(prehashed_events, "hashed-everything")["user_data"]
    assert user_data == {**{key: sha(column) for column, key in KEYS.items()}, **UNHASHED}
