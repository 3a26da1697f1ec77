"""Customer information: where Meta's docs and Meta's Python SDK agree, our DuckDB
normalization and hashing give exactly the SDK's value.

The oracle is ``facebook-business`` (``Normalize.normalize_field``, and
``UserData.normalize`` / ``CustomData.normalize`` for whole events). The inputs are
the ones ``shared/reference/meta_capi.md`` section 9 lists as agreement cases:
emails, phone numbers that already carry the country code, names and cities
without punctuation, 2-letter states, zip codes, alpha-2 countries, YYYYMMDD
birthdates, m/f genders, and currency codes.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.gender import Gender
from facebook_business.adobjects.serverside.normalize import Normalize
from facebook_business.adobjects.serverside.user_data import UserData

from connector.kit import pii
from plugins.meta.settings import MetaSettings
from plugins.meta.shaping import shape_sql
from tests.meta.conftest import row, sent, shape_rows

#: field -> the DuckDB expression the Meta destination uses for it (over column ``v``).
EXPRESSIONS = {
    "em": pii.hashed("v", pii.email("v")),
    "ph": pii.hashed("v", pii.phone("v", "'1'")),
    "fn": pii.hashed("v", pii.name("v")),
    "ln": pii.hashed("v", pii.name("v")),
    "ct": pii.hashed("v", pii.city("v")),
    "st": pii.hashed("v", pii.state("v", "states")),
    "zp": pii.hashed("v", pii.postal("v", "NULL")),
    "country": pii.hashed("v", "ctry.alpha2"),
    "db": pii.hashed("v", pii.birthdate("v", "VARCHAR")),
    "ge": pii.hashed("v", pii.gender("v")),
}

AGREED = [
    ("em", "jane@example.com"),
    ("em", "Jane.Doe@Example.COM"),
    ("em", "  jane@example.com  "),
    ("em", "JANE+promo@Example.co.uk"),
    ("em", "jane@example.com\t"),
    ("em", "\njane@example.com\r\n"),
    ("em", "\u00a0jane@example.com\u00a0"),
    ("em", "Jöran@Exämple.de"),
    ("ph", "+1 (650) 555-1212"),
    ("ph", "+1 650 555 1212"),
    ("ph", "+1-650-555-1212"),
    ("ph", "  +16505551212 "),
    ("ph", "16505551212"),
    ("ph", "+44 20 7946 0958"),
    ("ph", "0044 20 7946 0958"),
    ("ph", "+33 6 12 34 56 78"),
    ("ph", "+49 30 1234567"),
    ("fn", "Mary"),
    ("fn", "  JOHN "),
    ("fn", "Mary Ann"),
    ("fn", "José"),
    ("fn", "ÉLODIE"),
    ("fn", "Zoë"),
    ("ln", "Nguyễn"),
    ("ln", "李"),
    ("ln", "Smith\t"),
    ("ct", "Menlo Park"),
    ("ct", "  MENLO PARK "),
    ("ct", "St. Louis"),
    ("ct", "Winston-Salem"),
    ("ct", "São Paulo"),
    ("ct", "Zürich"),
    ("ct", "New York 10001"),
    ("st", "CA"),
    ("st", " ca "),
    ("st", "N.Y."),
    ("st", "tx"),
    ("st", "ON"),
    ("zp", "94025"),
    ("zp", " 94025 "),
    ("zp", "94025-1234"),
    ("country", "US"),
    ("country", " us "),
    ("country", "GB"),
    ("country", "de"),
    ("country", "FR\t"),
    ("db", "19970216"),
    ("db", " 19970216 "),
    ("ge", "f"),
    ("ge", "m"),
    ("ge", " F "),
]


@pytest.mark.parametrize("field, value", AGREED)
def test_hash_equals_the_sdk(evaluate, field: str, value: str) -> None:
    expected = Normalize.normalize_field(field, value)
    assert evaluate(EXPRESSIONS[field], value) == expected


@pytest.mark.parametrize("value, country", [
    ("SW1A 1AA", "gb"), ("sw1a1aa", "gb"), ("K1A 0B1", "ca"), ("100-0001", "jp"),
    ("10115", "de"), ("94025-1234", "us"),
])
def test_postal_codes_outside_the_us_equal_the_sdk(evaluate, value: str, country: str) -> None:
    expression = pii.hashed("v", pii.postal("v", f"'{country}'"))
    assert evaluate(expression, value) == Normalize.normalize_field("zp", value)


@pytest.mark.parametrize("field", sorted(EXPRESSIONS))
def test_already_hashed_values_pass_through_like_the_sdk(evaluate, field: str) -> None:
    digest = hashlib.sha256(f"some {field}".encode()).hexdigest()
    for given in (digest, digest.upper(), f"  {digest}\n"):
        assert evaluate(EXPRESSIONS[field], given) == Normalize.normalize_field(field, given)
        assert evaluate(EXPRESSIONS[field], given) == digest


@pytest.mark.parametrize("field", sorted(EXPRESSIONS))
@pytest.mark.parametrize("blank", ["", "   ", "\t\n", None])
def test_blank_values_are_dropped_never_hashed(evaluate, field: str, blank: str | None) -> None:
    assert evaluate(EXPRESSIONS[field], blank) is None


def test_birthdate_from_a_date_column_equals_the_sdk_on_yyyymmdd(evaluate) -> None:
    expression = pii.hashed("v", pii.birthdate("v", "DATE"))
    assert evaluate(expression, dt.date(1997, 2, 16), cast="DATE") == \
        Normalize.normalize_field("db", "19970216")


WHOLE_ROW = {
    "email": " Jane.Doe@Example.COM ", "phone": "+1 (650) 555-1212",
    "given_name": "Mary Ann", "surname": "Nguyễn", "birthdate": "19970216",
    "gender": "F", "city": "Menlo Park", "state": "CA", "postal": "94025-1234",
    "country": "US", "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    "fbc": "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
    "fbp": "fb.1.1558571054389.1098115397", "madid": "38400000-8cf0-11bd-b23e-10b96e40000d",
}
CURRENCIES = ["USD", "usd", " eur ", "Jpy", "GBP\t"]


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The whole row, and one order per currency spelling, through the shaping query."""
    rows = [row("whole", **WHOLE_ROW)]
    rows += [row(f"currency-{i}", currency=c) for i, c in enumerate(CURRENCIES)]
    return shape_rows(tmp_path_factory.mktemp("sdk"), rows)


def test_whole_event_user_data_equals_the_sdks(events) -> None:
    """One row through the destination's shaping query vs ``UserData.normalize()``."""
    values = WHOLE_ROW
    sdk = UserData(
        emails=[values["email"]], phones=[values["phone"]], first_names=[values["given_name"]],
        last_names=[values["surname"]], dates_of_birth=[values["birthdate"]],
        genders=[Gender.FEMALE], cities=[values["city"]], states=[values["state"]],
        zip_codes=[values["postal"]], country_codes=[values["country"]],
        client_user_agent=values["client_user_agent"], fbc=values["fbc"], fbp=values["fbp"],
        madid=values["madid"]).normalize()
    user_data = sent(events, "whole")["user_data"]
    for key in ("em", "ph", "fn", "ln", "db", "ge", "ct", "st", "zp", "country"):
        assert user_data[key] == sdk[key][0], key
    for key in ("client_user_agent", "fbc", "fbp", "madid"):
        assert user_data[key] == sdk[key], key


@pytest.mark.parametrize("index, currency", list(enumerate(CURRENCIES)))
def test_currency_is_the_sdks_code(events, index: int, currency: str) -> None:
    """The same ISO 4217 code as the SDK's. The SDK lowercases it; Meta's docs ask for
    ISO 4217 (upper case by convention) and Meta accepts both, so we send it upper."""
    payload = sent(events, f"currency-{index}")
    sdk = CustomData(currency=currency, value=10.0).normalize()["currency"]
    assert payload["custom_data"]["currency"] == sdk.upper()
    assert payload["custom_data"]["currency"].lower() == sdk


@pytest.mark.parametrize("value", [
    " a ", "\ta\n", "\u00a0a\u00a0", "\u3000a\u2028", "\x1ca\x1f", "a b", "\u2003 \u2009",
    "\u0085é\u0085", "a\u00a0b", "", "\r\n",
])
def test_text_strips_what_python_strips(evaluate, value: str) -> None:
    assert evaluate(pii.text("v"), value) == (value.strip() or None)


def test_the_shaping_sql_is_ascii() -> None:
    """duckdb's Python client re-indexes non-ASCII query text character by character
    (a fifth of a second per shaping query): our own SQL stays ASCII."""
    columns = {c: "VARCHAR" for c in row()} | {"timestamp": "TIMESTAMP", "price": "DOUBLE"}
    settings = MetaSettings(dataset_id="1234567890", default_country="US",
                            event_names={"Vente en magasin": "Purchase"})
    sql = shape_sql("(SELECT 1)", columns, settings, dt.datetime(2026, 3, 15, tzinfo=dt.UTC),
                    True)
    assert sql.isascii()
