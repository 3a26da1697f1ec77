"""The job's columns as the google shaping reads them: by name in any case, identifiers
as text (whole numbers without their ".0"), the order each row belongs to, and the two
hashes that stand for a row's customer fields while rows are grouped by order."""

from __future__ import annotations

from connector.kit import Column, Contract, pii
from connector.kit.sql import identifier

#: Customer fields read from the query: normalized and hashed once per customer.
PROFILE = ("email", "phone", "given_name", "surname", "postal", "country")
#: Click identifiers, sent as they are in ``adIdentifiers``.
CLICK_IDS = ("gclid", "gbraid", "wbraid")
#: Consent columns (per row, over the job's defaults).
CONSENTS = ("ad_user_data", "ad_personalization")
#: The columns that together make an address identifier (country may be the default).
ADDRESS = ("given_name", "surname", "postal", "country")

CONTRACT = Contract(
    required=(
        Column("order_id", "any", "one conversion per order: Google's transactionId"),
        Column("timestamp", "timestamp", "when the purchase happened"),
        Column("currency", "text", "ISO 4217 code such as USD"),
    ),
    one_of=(
        (Column("price", "number", "unit price; value = sum(price x quantity)"),
         Column("value", "number", "the order's value (conversionValue)")),
        (Column("gclid", "text", "Google click id"),
         Column("gbraid", "text", "iOS app click id"),
         Column("wbraid", "text", "iOS web click id"),
         Column("email", "text", "normalized and SHA-256 hashed"),
         Column("phone", "any", "E.164, then SHA-256 hashed"),
         Column("given_name", "text", "with surname, postal and country: an address")),
    ),
    optional=(
        Column("quantity", "number", "units of the line (1 without the column); <= 0: a "
                                     "return, not sent"),
        Column("product_id", "any", "cartData.items[].merchantProductId"),
        Column("surname", "text", "family name, hashed"),
        Column("postal", "any", "postal code, sent in plain text"),
        Column("country", "text", "ISO country (code or name): phone calling code, "
                                  "address regionCode"),
        Column("ad_user_data", "any", "consent: granted/denied, true/false"),
        Column("ad_personalization", "any", "consent: granted/denied, true/false"),
        Column("conversion_action", "any", "conversion action id, or a name in "
                                           "[settings] conversion_actions"),
    ),
)

#: DuckDB types whose text has a fraction part ("42.0").
_FRACTIONAL = ("FLOAT", "DOUBLE", "REAL", "DECIMAL", "NUMERIC")
_INTEGRAL = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT", "UHUGEINT")


def named(columns: dict[str, str], name: str) -> str | None:
    """The query's spelling of column ``name`` (matched in any case), or None."""
    return next((c for c in columns if c.lower() == name), None)


def column(columns: dict[str, str], name: str) -> str:
    """Column ``name`` (any case) of the row ``src``, or NULL."""
    found = named(columns, name)
    return f"src.{identifier(found)}" if found is not None else "NULL"


def column_type(columns: dict[str, str], name: str, default: str = "") -> str:
    """The DuckDB type of column ``name``, upper case; ``default`` without the column."""
    found = named(columns, name)
    return columns[found].upper() if found is not None else default


def numeric(columns: dict[str, str], name: str) -> bool:
    kind = column_type(columns, name)
    return kind.startswith(_FRACTIONAL) or kind in _INTEGRAL


def text_column(columns: dict[str, str], name: str) -> str:
    """An identifier column as text; whole numbers stored as DOUBLE or DECIMAL lose their
    ".0" (order 42.0 is "42", phone 6505551212.0 is 6505551212)."""
    expr = column(columns, name)
    if not column_type(columns, name).startswith(_FRACTIONAL):
        return expr
    return (f"CASE WHEN {expr} = floor({expr}) AND abs({expr}) < 1e18 "
            f"THEN CAST(CAST({expr} AS HUGEINT) AS VARCHAR) ELSE CAST({expr} AS VARCHAR) END")


def order_key(columns: dict[str, str]) -> str:
    """The order a row ``src`` belongs to: the events are grouped by it."""
    return pii.text(text_column(columns, "order_id"))


def customer_hashes(columns: dict[str, str]) -> str:
    """Two 64-bit hashes of a row's customer fields (``customer``, ``customer_check``):
    the grouping by order keeps their smallest and largest values instead of the fields,
    and ``users`` finds each order's customer by them (the Meta shaping's technique)."""
    values = [text_column(columns, name) for name in PROFILE]
    return (f"hash({', '.join(values)}) AS customer, "
            f"hash('offramp', {', '.join(reversed(values))}) AS customer_check")
