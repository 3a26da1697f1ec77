"""Deterministic demo data for the RQ emulator: companies, customers, products and
the Marketing Report rows of any company-day.

Everything is derived from ``random.Random`` seeded with the company id and the
day, so the same request always gets the same answer, in any process. Emails use
the reserved ``example.com``/``example.net`` domains and phones the fictional
``555-01xx`` range. The first customer and product of KENTEL are the seed's own
sample row (John Test, Galaxy Gear Watch, ``Activations,Smart Phones``).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Company:
    id: int
    name: str
    doing_business_as: str
    region: str  # "CA" or "US"


#: The partner's related companies (GET /partner/relationships). 14682 and 21090
#: are the ids of the documentation's examples.
COMPANIES: tuple[Company, ...] = (
    Company(14682, "KENTEL", "Kentel Communications", "CA"),
    Company(21090, "PRAIRIE WIRELESS", "Prairie Wireless Inc.", "CA"),
    Company(30517, "LAKESHORE MOBILE", "Lakeshore Mobile LLC", "US"),
)

_PLACES = {
    "CA": [("Regina", "SK", "S4P 3Y2", "Canada"), ("Saskatoon", "SK", "S7K 1J5", "Canada"),
           ("Winnipeg", "MB", "R3C 4T3", "Canada"), ("Calgary", "AB", "T2P 2M5", "Canada"),
           ("Québec", "QC", "G1R 4P5", "Canada"), ("St. John's", "NL", "A1C 5M2", "Canada")],
    "US": [("Seattle", "WA", "98101", "United States"),
           ("Portland", "OR", "97204", "United States"),
           ("Boise", "ID", "83702", "United States"), ("Spokane", "WA", "99201", "USA")],
}
_AREA = {"CA": ["306", "204", "403", "418"], "US": ["206", "503", "208", "509"]}
_FIRST = ["Avery", "Jordan", "Maya", "Liam", "Chloé", "Noah", "Priya", "Mateo", "Zoë", "Ethan",
          "Amara", "Owen", "Hana", "Lucas", "Sofia", "Caleb", "Nadia", "Felix"]
_LAST = ["Nguyen", "Tremblay", "Smith", "O'Connor", "Martin", "Singh", "Côté", "Brown", "Lee",
         "Roy", "Wilson", "Gagnon", "Patel", "MacDonald", "Chen", "Lavoie"]

#: (ProductLibraryID, Category, ListPrice, ProductLibraryName, ProductLibraryCanonicalName)
PRODUCTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("M5592-E12435", "Activations,Smart Phones", "299.99", "Galaxy Gear Watch - Black",
     "Smartphones"),
    ("M6120-E20001", "Hardware,Smart Phones", "1129.99", "iPhone 15 128GB - Blue", "Smartphones"),
    ("M5590-E12400", "Hardware,Tablets", "499.99", "Galaxy Tab S9 FE", "Tablets"),
    ("M7001-E30010", "Accessories,Cases", "49.99", "OtterBox Defender - iPhone 15", "Cases"),
    ("M7002-E30044", "Accessories", "29.99", "USB-C Cable 2m", "Cables"),
    ("M8100-E40002", "Activations,Prepaid", "45.00", "Prepaid Plan 45", "Plans"),
    ("M8200-E41000", "Protection Plans", "129.00", "Device Protection 24 months", "Warranty"),
)
_DISCOUNTS = [Decimal("1"), Decimal("1"), Decimal("0.9"), Decimal("0.8333")]

#: The seed's sample row, word for word.
SEED_ROW: dict[str, Any] = {
    "Email": "johntest@kentel.com", "Phone": "5555555555", "FirstName": "John",
    "LastName": "Test", "City": "Regina", "Province": "SK", "PostalCode": "H0H0H0",
    "Country": "Canada", "Category": "Activations,Smart Phones",
    "ProductLibraryID": "M5592-E12435", "UnitPrice": Decimal("250"),
    "ListPrice": Decimal("299.99"), "Quantity": 1,
    "ProductLibraryName": "Galaxy Gear Watch - Black",
    "ProductLibraryCanonicalName": "Smartphones",
}


def company(company_id: int) -> Company | None:
    return next((c for c in COMPANIES if c.id == company_id), None)


def customers(c: Company, count: int = 24) -> list[dict[str, Any]]:
    """The company's customers: profile columns of the report (some blank, as in real data)."""
    rng = random.Random(f"customers:{c.id}")
    people: list[dict[str, Any]] = []
    if c.id == 14682:
        people.append({k: SEED_ROW[k] for k in ("Email", "Phone", "FirstName", "LastName", "City",
                                                 "Province", "PostalCode", "Country")})
    while len(people) < count:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        city, province, postal, country = rng.choice(_PLACES[c.region])
        n = rng.randrange(100)
        local = f"{first}.{last}{n}".lower().replace("'", "")
        digits = f"{rng.choice(_AREA[c.region])}55501{n % 100:02d}"
        phone = rng.choice([digits, f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                            f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"])
        email = f"{local}@{rng.choice(['example.com', 'example.net'])}"
        person: dict[str, str | None] = {
            "Email": email, "Phone": phone, "FirstName": first, "LastName": last, "City": city,
            "Province": province, "PostalCode": postal, "Country": country}
        roll = rng.random()
        if roll < 0.1:
            person["Email"] = None
        elif roll < 0.2:
            person["Phone"] = None
        elif roll < 0.28:  # walk-in customer: no address on file
            person.update(City=None, Province=None, PostalCode=None, Country=None)
        people.append(person)
    return people


def rows_for(company_id: int, day: dt.date, scale: int = 1) -> list[tuple[dt.datetime, dict]]:
    """The report rows of one company-day, each with its hidden sale time.

    About one day in four has no sales. A sale is one to three line items for one
    customer; a few lines are returns (negative Quantity).
    """
    c = company(company_id)
    if c is None:
        return []
    rng = random.Random(f"rows:{c.id}:{day.isoformat()}")
    target = rng.choice([0, 0, 1, 2, 3, 4, 5, 6]) * scale
    people = customers(c)
    out: list[tuple[dt.datetime, dict]] = []
    while len(out) < target:
        person = rng.choice(people)
        when = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(seconds=rng.randrange(43200))
        for _ in range(min(rng.randint(1, 3), target - len(out))):
            pid, category, listed, name, canonical = rng.choice(PRODUCTS)
            list_price = Decimal(listed)
            unit = (list_price * rng.choice(_DISCOUNTS)).quantize(Decimal("0.01"))
            quantity = -1 if rng.random() < 0.05 else rng.choice([1, 1, 1, 2])
            row = dict(person)
            row.update(Category=category, ProductLibraryID=pid, UnitPrice=unit,
                       ListPrice=list_price, Quantity=quantity, ProductLibraryName=name,
                       ProductLibraryCanonicalName=canonical)
            if person.get("Email") == SEED_ROW["Email"] and pid == SEED_ROW["ProductLibraryID"]:
                row.update(UnitPrice=SEED_ROW["UnitPrice"], Quantity=1)
            out.append((when, row))
    return out
