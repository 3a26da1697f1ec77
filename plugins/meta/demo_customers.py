"""Synthetic ``Customer_360`` rows with the mess real customer tables have.

Proportions and the reason for each kind of mess are in :mod:`plugins.meta.demo_data`'s
docstring. Contact data is safe to publish: every email is at ``example.com``, ``.net`` or
``.org`` (reserved by RFC 2606), US and Canadian phone numbers use the 555 exchange (kept by
the NANP for directory services and fiction, not personal lines), and UK mobiles are in
Ofcom's 07700 900000-900999 range reserved for drama.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
import uuid
from dataclasses import dataclass

from plugins.meta.demo_pick import Pick, chance, uniform


@dataclass(frozen=True)
class Place:
    """A city with the spellings its state, postal code and country come in."""

    city: str
    city_variants: tuple[str, ...]
    state: str | None
    state_variants: tuple[str, ...]
    postal: str
    area_code: str
    country: str  # ISO alpha-2: US, CA or GB


def _us(city: str, state: str, name: str, informal: str, zip5: str, area: str,
        *variants: str) -> Place:
    return Place(city, variants, state, (name, state.lower(), informal), zip5, area, "US")


PLACES: dict[str, list[Place]] = {
    "US": [
        _us("Menlo Park", "CA", "California", "calif.", "94025", "650"),
        _us("San José", "CA", "California", "Calif.", "95113", "408", "San Jose"),
        _us("Los Angeles", "CA", "California", "calif.", "90012", "213", "LA"),
        _us("Seattle", "WA", "Washington", "wash.", "98101", "206"),
        _us("Portland", "OR", "Oregon", "ore.", "97201", "503"),
        _us("New York", "NY", "New York", "N.Y.", "10001", "212", "New York City", "NYC"),
        _us("Brooklyn", "NY", "New York", "n.y.", "11201", "718"),
        _us("Boston", "MA", "Massachusetts", "mass.", "02108", "617"),
        _us("Newark", "NJ", "New Jersey", "N.J.", "07102", "973"),
        _us("Austin", "TX", "Texas", "tex.", "78701", "512"),
        _us("Chicago", "IL", "Illinois", "ill.", "60601", "312"),
        _us("Denver", "CO", "Colorado", "colo.", "80202", "303"),
        _us("Miami", "FL", "Florida", "fla.", "33131", "305"),
        _us("Atlanta", "GA", "Georgia", "Ga.", "30303", "404"),
        _us("St. Louis", "MO", "Missouri", "mo.", "63101", "314", "Saint Louis", "St Louis"),
        _us("Coeur d'Alene", "ID", "Idaho", "ida.", "83814", "208"),
        _us("Honolulu", "HI", "Hawaii", "hawaii", "96813", "808"),
    ],
    "CA": [
        Place("Ottawa", (), "ON", ("Ontario", "ont."), "K1A 0B6", "613", "CA"),
        Place("Toronto", (), "ON", ("Ontario", "on"), "M5V 2T6", "416", "CA"),
        Place("Montréal", ("Montreal",), "QC", ("Quebec", "Québec"), "H2Y 1C6", "514", "CA"),
        Place("Vancouver", (), "BC", ("British Columbia", "b.c."), "V6B 1A1", "604", "CA"),
    ],
    "GB": [
        Place("London", (), None, ("England", "Greater London"), "SW1A 1AA", "", "GB"),
        Place("Manchester", (), None, ("England",), "M1 1AE", "", "GB"),
        Place("Edinburgh", (), None, ("Scotland",), "EH1 1YZ", "", "GB"),
    ],
}

GIVEN_PLAIN = ("James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
               "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph",
               "Jessica", "Thomas", "Sarah", "Daniel", "Karen", "Matthew", "Lisa", "Anthony",
               "Nancy", "Wei", "Priya", "Mohammed", "Fatima", "Hiroshi", "Yuki", "Olga", "Kwame")
GIVEN_ACCENTED = ("José", "Zoë", "Chloé", "François", "Søren", "Björn", "Renée", "Inés",
                  "Jürgen", "Siobhán", "Noémie", "Ángel")
GIVEN_PUNCTUATED = ("Anne-Marie", "Jean-Luc", "Mary Ann", "Mary-Kate", "D'Andre", "J.R.")
SURNAME_PLAIN = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
                 "Anderson", "Taylor", "Moore", "Martin", "Jackson", "Thompson", "White",
                 "Harris", "Clark", "Lewis", "Walker", "Nguyen", "Kim", "Patel", "Chen", "Singh",
                 "Cohen", "Okafor")
SURNAME_ACCENTED = ("Müller", "García", "Hernández", "Peña", "Gómez", "Sørensen", "Brontë",
                    "Côté", "Lefèvre", "Núñez", "Çelik", "Ødegaard")
SURNAME_PUNCTUATED = ("O'Brien", "D'Angelo", "Smith-Jones", "van der Berg", "St. John",
                      "O'Neil", "McDonald-Ruiz", "de la Cruz")

_given = Pick([(uniform(GIVEN_PLAIN), 85.0), (uniform(GIVEN_ACCENTED), 10.0),
               (uniform(GIVEN_PUNCTUATED), 5.0)])
_surname = Pick([(uniform(SURNAME_PLAIN), 82.0), (uniform(SURNAME_ACCENTED), 10.0),
                 (uniform(SURNAME_PUNCTUATED), 8.0)])
_name_style = Pick([("as_is", 80.0), ("upper", 8.0), ("lower", 5.0), ("padded_upper", 3.0),
                    ("padded", 2.0), ("null", 2.0)])
_country = Pick([("US", 88.0), ("CA", 7.0), ("GB", 5.0)])
_domain = uniform(("example.com", "example.net", "example.org", "mail.example.com"))
_local = Pick([("first.last", 40.0), ("firstlast", 15.0), ("flast", 15.0),
               ("first_last_nn", 15.0), ("first_yy", 10.0), ("plus_tag", 5.0)])
_email_style = Pick([("clean", 66.0), ("mixed_case", 12.0), ("padded", 6.0), ("invalid", 4.0),
                     ("null", 12.0)])
_invalid_email = uniform(("n/a", "N/A", "{first}@", "", "none", "{first}.{last}@example",
                          "{first}.{last}.example.com"))
_nanp_phone = Pick([("({a}) {e}-{n}", 18.0), ("{a}-{e}-{n}", 14.0), ("{a}.{e}.{n}", 8.0),
                    ("+1 {a} {e} {n}", 8.0), ("+1 ({a}) {e}-{n}", 4.0), ("1-{a}-{e}-{n}", 4.0),
                    ("001 {a} {e} {n}", 2.0), ("{a}{e}{n}", 12.0), ("1{a}{e}{n}", 4.0),
                    ("{a}-{e}-{n} x{x}", 1.0), ("", 5.0), (None, 20.0)])
_uk_phone = Pick([("+44 7700 {n}", 45.0), ("07700 {n}", 30.0), ("+44 (0)7700 {n}", 5.0),
                  ("447700{n}", 5.0), ("", 5.0), (None, 10.0)])
_no_contact = Pick([((None, None), 70.0), (("", None), 10.0), ((None, ""), 10.0),
                    (("", ""), 10.0)])
_gender = Pick([("F", 20.0), ("M", 18.0), ("Female", 8.0), ("male", 7.0), ("f", 3.0),
                ("x", 2.0), ("U", 2.0), (None, 40.0)])
_birth_style = Pick([("date", 77.0), ("placeholder", 1.0), ("null", 22.0)])
_city_style = Pick([("as_is", 70.0), ("variant", 10.0), ("upper", 8.0), ("lower", 4.0),
                    ("padded", 3.0), ("null", 5.0)])
_us_state = Pick([("abbr", 60.0), ("name", 15.0), ("lower", 8.0), ("informal", 5.0),
                  ("padded", 2.0), ("null", 10.0)])
_other_state = Pick([("abbr", 55.0), ("name", 30.0), ("null", 15.0)])
_us_postal = Pick([("zip5", 68.0), ("zip9", 15.0), ("zip9_space", 2.0), ("lost_zero", 3.0),
                   ("padded", 2.0), ("null", 10.0)])
_intl_postal = Pick([("as_is", 70.0), ("compact_lower", 15.0), ("null", 15.0)])
_country_spelling = {
    "US": Pick([("US", 40.0), ("USA", 18.0), ("United States", 12.0), ("us", 8.0),
                ("U.S.A.", 2.0), ("United States of America", 3.0), (None, 17.0)]),
    "CA": Pick([("Canada", 40.0), ("CA", 35.0), ("ca", 5.0), (None, 20.0)]),
    "GB": Pick([("GB", 40.0), ("United Kingdom", 25.0), ("UK", 15.0), (None, 20.0)]),
}

NO_CONTACT_SHARE = 0.05


def new_id(rng: random.Random) -> str:
    """An Amperity-style id: a version-4 UUID string drawn from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _ascii(text: str) -> str:
    """Letters and digits of ``text`` with accents removed, lowercased (for email locals)."""
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if c.isascii() and c.isalnum()).lower()


def _styled(rng: random.Random, value: str, style: str) -> str | None:
    if style == "upper":
        return value.upper()
    if style == "lower":
        return value.lower()
    if style == "padded_upper":
        return "  " + value.upper() + " "
    if style == "padded":
        return " " * rng.randint(1, 2) + value + " " * rng.randint(0, 2)
    if style == "null":
        return None
    return value


def _email(rng: random.Random, first: str, last: str) -> str | None:
    style = _email_style(rng)
    f, s = _ascii(first) or "guest", _ascii(last) or "shopper"
    if style == "null":
        return None
    if style == "invalid":
        return _invalid_email(rng).format(first=f, last=s)
    local = _local(rng)
    if local == "first.last":
        text = f"{f}.{s}"
    elif local == "firstlast":
        text = f"{f}{s}"
    elif local == "flast":
        text = f"{f[0]}{s}{rng.randint(1, 99)}"
    elif local == "first_last_nn":
        text = f"{f}_{s}{rng.randint(10, 999)}"
    elif local == "first_yy":
        text = f"{f}{rng.randint(60, 99)}{rng.randint(0, 999)}"
    else:
        text = f"{f}.{s}+shop"
    address = f"{text}@{_domain(rng)}"
    if style == "mixed_case":
        parts = address.split("@")
        if rng.random() < 0.5:
            return f"{parts[0][:1].upper()}{parts[0][1:]}@{parts[1].upper()}"
        return address.title()
    if style == "padded":
        return " " * rng.randint(1, 3) + address + " " * rng.randint(0, 2)
    return address


def _phone(rng: random.Random, place: Place) -> str | None:
    if place.country == "GB":
        pattern = _uk_phone(rng)
        return None if pattern is None else pattern.format(n=f"900{rng.randint(0, 999):03d}")
    pattern = _nanp_phone(rng)
    if pattern is None:
        return None
    return pattern.format(a=place.area_code, e="555", n=f"{rng.randint(0, 9999):04d}",
                          x=rng.randint(10, 999))


def _birthdate(rng: random.Random, today: dt.date) -> dt.date | None:
    style = _birth_style(rng)
    if style == "null":
        return None
    if style == "placeholder":
        return dt.date(1900, 1, 1)
    age_days = int(365.25 * (18 + 67 * rng.random() ** 1.4))
    return today - dt.timedelta(days=age_days)


def _city(rng: random.Random, place: Place) -> str | None:
    style = _city_style(rng)
    if style == "variant":
        return rng.choice(place.city_variants) if place.city_variants else place.city
    return _styled(rng, place.city, style)


def _state(rng: random.Random, place: Place) -> str | None:
    if place.country == "US":
        style = _us_state(rng)
        if style == "abbr":
            return place.state
        if style == "padded":
            return f" {place.state} "
        if style == "null":
            return None
        name, lower, informal = place.state_variants
        return {"name": name, "lower": lower, "informal": informal}[style]
    style = _other_state(rng)
    if style == "null" or (style == "abbr" and place.state is None):
        return None
    return place.state if style == "abbr" else rng.choice(place.state_variants)


def _postal(rng: random.Random, place: Place) -> str | None:
    if place.country != "US":
        style = _intl_postal(rng)
        if style == "null":
            return None
        return place.postal if style == "as_is" else place.postal.replace(" ", "").lower()
    style = _us_postal(rng)
    plus4 = f"{rng.randint(1, 9999):04d}"
    if style == "zip9":
        return f"{place.postal}-{plus4}"
    if style == "zip9_space":
        return f"{place.postal} {plus4}"
    if style == "lost_zero":  # the ZIP went through an integer column somewhere
        return str(int(place.postal))
    if style == "padded":
        return f"{place.postal} "
    if style == "null":
        return None
    return place.postal


def customers(rng: random.Random, count: int, today: dt.date) -> dict[str, list[object]]:
    """``count`` customers as column lists in ``Customer_360`` order."""
    cols: dict[str, list[object]] = {name: [] for name in (
        "amperity_id", "email", "phone", "given_name", "surname", "birthdate", "gender",
        "city", "state", "postal", "country")}
    for _ in range(count):
        first, last = _given(rng)(rng), _surname(rng)(rng)
        place = rng.choice(PLACES[_country(rng)])
        if chance(rng, NO_CONTACT_SHARE):
            email, phone = _no_contact(rng)
        else:
            email, phone = _email(rng, first, last), _phone(rng, place)
        cols["amperity_id"].append(new_id(rng))
        cols["email"].append(email)
        cols["phone"].append(phone)
        cols["given_name"].append(_styled(rng, first, _name_style(rng)))
        cols["surname"].append(_styled(rng, last, _name_style(rng)))
        cols["birthdate"].append(_birthdate(rng, today))
        cols["gender"].append(_gender(rng))
        cols["city"].append(_city(rng, place))
        cols["state"].append(_state(rng, place))
        cols["postal"].append(_postal(rng, place))
        cols["country"].append(_country_spelling[place.country](rng))
    return cols
