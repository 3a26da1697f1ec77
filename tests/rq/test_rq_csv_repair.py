"""The CSV rule for rows with unquoted commas: repair only when the extra fields
can only belong to Category, otherwise reject with a reason (never shift)."""

from __future__ import annotations

import pytest

from plugins.rq.csv_repair import fix_row
from plugins.rq.formats import parse_csv
from plugins.rq.schema import NAMES

HEADER = list(NAMES)
# The seed's own CSV sample, byte for byte (one field too many).
SEED_CSV = (
    "Email,Phone,FirstName,LastName,City,Province,PostalCode,Country,Category,ProductLibraryID,"
    "UnitPrice,ListPrice,Quantity,ProductLibraryName,ProductLibraryCanonicalName\n"
    "johntest@kentel.com,5555555555,John,Test,Regina,SK,H0H0H0,Canada,Activations,Smart Phones,"
    "M5592-E12435,250,299.99,1,Galaxy Gear Watch - Black,Smartphones"
)


def row(**changes: str) -> list[str]:
    """The seed row as fields, with some columns changed (values joined as the API does)."""
    base = {"Email": "johntest@kentel.com", "Phone": "5555555555", "FirstName": "John",
            "LastName": "Test", "City": "Regina", "Province": "SK", "PostalCode": "H0H0H0",
            "Country": "Canada", "Category": "Activations", "ProductLibraryID": "M5592-E12435",
            "UnitPrice": "250", "ListPrice": "299.99", "Quantity": "1",
            "ProductLibraryName": "Galaxy Gear Watch - Black",
            "ProductLibraryCanonicalName": "Smartphones"}
    base.update(changes)
    return ",".join(base[n] for n in HEADER).split(",")


def test_the_seed_sample_is_repaired_into_category_without_shifting() -> None:
    parsed = parse_csv(SEED_CSV)
    assert parsed.repaired == 1 and parsed.rejected == []
    (values,) = parsed.rows
    assert values["Category"] == "Activations,Smart Phones"
    assert values["ProductLibraryID"] == "M5592-E12435"
    assert (values["UnitPrice"], values["ListPrice"], values["Quantity"]) == ("250", "299.99", "1")
    assert values["ProductLibraryCanonicalName"] == "Smartphones"
    assert parsed.labels == ["CSV line 2"]


def test_two_commas_in_category_are_repaired() -> None:
    fix = fix_row(HEADER, row(Category="Hardware,Smart Phones,Unlocked"))
    assert fix.repaired and fix.values is not None
    assert fix.values["Category"] == "Hardware,Smart Phones,Unlocked"
    assert fix.values["UnitPrice"] == "250"


def test_walk_in_customer_without_address_is_still_repaired() -> None:
    # Blank address columns cannot prove anything; the country check still can.
    fix = fix_row(HEADER, row(City="", Province="", PostalCode="", Country="",
                              Category="Accessories,Cases"))
    assert fix.repaired and fix.values is not None
    assert fix.values["Country"] == "" and fix.values["Category"] == "Accessories,Cases"


@pytest.mark.parametrize(("changes", "expected"), [
    # A comma in the product name: the numbers anchor it after Category, but it could
    # be the name or the canonical name.
    ({"ProductLibraryName": "Galaxy S24, 256GB"},
     "could belong to ProductLibraryCanonicalName or ProductLibraryName"),
    # A country with a comma looks exactly like a comma in Category: ambiguous.
    ({"Country": "Korea, Republic of", "Category": "Activations,Smart Phones"},
     "could belong to Category or Country"),
    # A comma in the first name: it could as well be in the last name or the city.
    ({"FirstName": "Smith, Jr."}, "could belong to City or FirstName or LastName"),
    # "Virgin Islands" alone is no country, so only Country fits; still not repaired.
    ({"Country": "Virgin Islands, British"}, "can only belong to Country"),
])
def test_extra_fields_elsewhere_are_rejected_with_the_columns_in_doubt(
        changes: dict[str, str], expected: str) -> None:
    fix = fix_row(HEADER, row(**changes))
    assert fix.values is None and not fix.repaired
    assert fix.reason is not None and expected in fix.reason
    assert "rejected" in fix.reason


def test_no_reading_fits_is_rejected_not_shifted() -> None:
    # A price with a thousands separator splits a number column: nothing can fit.
    fix = fix_row(HEADER, row(UnitPrice="1,250"))
    assert fix.values is None
    assert fix.reason is not None and "no way of giving them back" in fix.reason


def test_too_few_fields_is_rejected() -> None:
    fields = row()[:-2]
    fix = fix_row(HEADER, fields)
    assert fix.values is None
    assert fix.reason is not None and "has 13 fields but the header has 15" in fix.reason


def test_reasons_never_quote_values() -> None:
    fix = fix_row(HEADER, row(ProductLibraryName="Galaxy S24, 256GB"))
    assert fix.reason is not None
    for value in ("johntest@kentel.com", "5555555555", "John", "Galaxy", "Regina"):
        assert value not in fix.reason


def test_quoted_commas_need_no_repair_and_rows_with_right_width_pass() -> None:
    text = ",".join(HEADER) + "\r\n" + ",".join(
        f'"{v}"' if "," in v else v for v in
        ["a@example.com", "3065550100", "Ann", "Lee", "Regina", "SK", "S4P 3Y2", "Canada",
         "Activations,Smart Phones", "M1-E2", "10.5", "12", "2", "Case, clear", "Cases"]) + "\r\n"
    parsed = parse_csv(text)
    assert parsed.repaired == 0 and parsed.rejected == []
    assert parsed.rows[0]["Category"] == "Activations,Smart Phones"
    assert parsed.rows[0]["ProductLibraryName"] == "Case, clear"


def test_a_rejected_row_does_not_stop_the_others() -> None:
    lines = [",".join(HEADER), ",".join(row(Category="Activations,Smart Phones")),
             ",".join(row(ProductLibraryName="Galaxy S24, 256GB")), ",".join(row())]
    parsed = parse_csv("\n".join(lines) + "\n")
    assert [label for label, _ in parsed.rejected] == ["CSV line 3"]
    assert parsed.labels == ["CSV line 2", "CSV line 4"]
    assert parsed.repaired == 1
