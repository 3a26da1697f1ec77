"""The ``users`` step of the google shaping query: each distinct customer of the rows,
normalized per Google's formatting guide and hashed once, as the ``userIdentifiers`` of
its events (:mod:`plugins.google.shaping` lists every step).

=============  ============================================================  ==========
identifier     normalization (:mod:`connector.kit.pii`)                      sent
=============  ============================================================  ==========
emailAddress   :func:`~connector.kit.pii.google_email`                       SHA-256
phoneNumber    :func:`~connector.kit.pii.e164` (row country, else default)   SHA-256
address        givenName :func:`~connector.kit.pii.given_name`,              SHA-256
               familyName :func:`~connector.kit.pii.family_name`             SHA-256
               regionCode (ISO alpha-2, upper case)                          plain
               postalCode :func:`~connector.kit.pii.plain_postal`            plain
=============  ============================================================  ==========

A value that already is a SHA-256 hex digest passes through (lower-cased). Digests are
written in hex, or standard Base64 with ``encoding = "BASE64"``.
"""

from __future__ import annotations

from connector.kit import pii
from plugins.google import columns as job_columns
from plugins.google.columns import PROFILE
from plugins.google.shaping_context import Shaping, q


def users_cte(ctx: Shaping) -> str:
    """``users``: the distinct customers of the kept lines of orders (by their two hashes
    and raw fields), joined to their country, with ``identifiers``: their user
    identifiers as the members of a JSON array ('' when none is usable)."""
    members = ", ".join(identifiers(ctx))
    return f"""users AS (
    SELECT u.customer, u.customer_check,
        concat_ws(',', {members}) AS identifiers
    FROM (SELECT DISTINCT customer, customer_check, {", ".join(PROFILE)}
          FROM rows WHERE order_id IS NOT NULL AND kept) AS u
    LEFT JOIN countries ctry ON ctry.key = {pii.country_key("u.country")}
)"""


def identifiers(ctx: Shaping) -> list[str]:
    """Each user identifier as a JSON object, NULL when its fields are missing or not
    usable after normalization: email, phone, and the address (all four of given name,
    family name, region code and postal code)."""
    default_country = q(ctx.default_country) if ctx.default_country else "NULL"
    country = f"coalesce(ctry.alpha2, {default_country})"
    calling_code = q(ctx.default_calling_code) if ctx.default_calling_code else "NULL"
    email = digest(ctx, pii.hashed("u.email", pii.google_email("u.email")))
    phone = digest(ctx, pii.hashed("u.phone", pii.e164(
        "u.phone", f"coalesce(ctry.calling_code, {calling_code})")))
    given = digest(ctx, pii.hashed("u.given_name", pii.given_name("u.given_name")))
    family = digest(ctx, pii.hashed("u.surname", pii.family_name("u.surname")))
    postal = pii.plain_postal("u.postal", country,
                              numeric=job_columns.numeric(ctx.columns, "postal"))
    address = ("'{\"address\":{\"givenName\":\"' || " + given
               + " || '\",\"familyName\":\"' || " + family
               + " || '\",\"regionCode\":\"' || " + pii.region_code(country)
               + " || '\",\"postalCode\":' || to_json(" + postal + ") || '}}'")
    return [f"'{{\"emailAddress\":\"' || {email} || '\"}}'",
            f"'{{\"phoneNumber\":\"' || {phone} || '\"}}'",
            address]


def digest(ctx: Shaping, hex_digest: str) -> str:
    """A hex SHA-256 digest in the job's ``encoding``."""
    return hex_digest if ctx.encoding == "HEX" else pii.base64_digest(hex_digest)
