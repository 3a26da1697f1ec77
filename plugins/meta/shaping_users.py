"""The ``users`` step of the Meta shaping query: each distinct customer of the rows,
normalized and hashed once, as the ``user_data`` of its events (:mod:`plugins.meta.shaping`
lists every step)."""

from __future__ import annotations

from connector.kit import pii
from plugins.meta import columns as job_columns
from plugins.meta.columns import PROFILE
from plugins.meta.shaping_context import Shaping, q

#: The date of a customer's first event (its earliest order among the rows): a birthdate
#: after it is in the future, and left out.
FIRST_EVENT_DATE = "CAST(make_timestamp(u.first_event_time * 1000000) AS DATE)"


def users_cte(ctx: Shaping) -> str:
    """``users``: the distinct customers of the kept lines of orders (by their two hashes
    and their raw fields) with the time of their first event, each field trimmed once
    (``t_<field>``), joined to its country and state, and their ``user_data`` JSON: Meta's
    normalized, hashed fields."""
    members = pretrimmed(", ".join(user_fields(ctx)), "u")
    trimmed = ", ".join(f"{pii.text(f'p.{name}')} AS t_{name}" for name in PROFILE)
    return f"""users AS (
    SELECT u.customer, u.customer_check, u.client_user_agent,
        '{{' || concat_ws(',', {members}) || '}}' AS user_data
    FROM (SELECT p.*, {trimmed}
          FROM (SELECT customer, customer_check, {", ".join(PROFILE)},
                min(event_time) AS first_event_time
                FROM rows WHERE order_id IS NOT NULL AND kept GROUP BY ALL) AS p) AS u
    LEFT JOIN countries ctry ON ctry.key = {pretrimmed(pii.country_key("u.country"), "u")}
    LEFT JOIN states sts ON sts.key = {pretrimmed(pii.state_key("u.state"), "u")}
)"""


def user_fields(ctx: Shaping) -> list[str]:
    """Each field of ``user_data`` as a JSON member: the identifiers normalized as Meta
    specifies and hashed (:func:`_hashed`), the browser and device ids as they are. The
    country comes from ``countries`` (``ctry``) or the default country, and normalizes the
    phone's calling code and the postal code."""
    default_country = q(ctx.default_country.lower()) if ctx.default_country else "NULL"
    country = f"coalesce(ctry.alpha2, {default_country})"
    calling_code = q(ctx.default_calling_code) if ctx.default_calling_code else "NULL"
    birthdate_type = ("VARCHAR" if job_columns.fractional(ctx.columns, "birthdate")
                      else ctx.type_of("birthdate", "VARCHAR"))
    postal = pii.postal("u.postal", country, numeric=job_columns.numeric(ctx.columns, "postal"))
    return [
        _member("em", _hashed(ctx, "u.email", pii.email("u.email"))),
        _member("ph", _hashed(ctx, "u.phone", pii.phone(
            "u.phone", f"coalesce(ctry.calling_code, {calling_code})"))),
        _member("fn", _hashed(ctx, "u.given_name", pii.name("u.given_name"))),
        _member("ln", _hashed(ctx, "u.surname", pii.name("u.surname"))),
        _member("db", _hashed(ctx, "u.birthdate", pii.birthdate(
            "u.birthdate", birthdate_type, FIRST_EVENT_DATE))),
        _member("ge", _hashed(ctx, "u.gender", pii.gender("u.gender"))),
        _member("ct", _hashed(ctx, "u.city", pii.city("u.city"))),
        _member("st", _hashed(ctx, "u.state", pii.state("u.state", "sts"))),
        _member("zp", _hashed(ctx, "u.postal", postal)),
        _member("country", _hashed(ctx, "u.country", country)),
        _member("external_id", _hashed(ctx, "u.external_id", pii.text("u.external_id"))),
        _member("client_user_agent", pii.text("u.client_user_agent"), quote=True),
        _member("fbc", pii.text("u.fbc"), quote=True),
        _member("fbp", pii.text("u.fbp"), quote=True),
        _member("madid", pii.text("u.madid"), quote=True),
    ]


def _hashed(ctx: Shaping, raw: str, normalized: str) -> str:
    """The SHA-256 of the ``normalized`` value, or ``raw`` when it already is one; with
    hashing off, only a ``raw`` value that already is a SHA-256 (in lower case)."""
    if ctx.hashing:
        return pii.hashed(raw, normalized)
    v = f"lower({pii.text(raw)})"
    return f"CASE WHEN regexp_full_match({v}, {pii.HEX64}) THEN {v} END"


def _member(name: str, expr: str, quote: bool = False) -> str:
    """``"name":value``: ``expr`` (a hex digest) in quotes, or as JSON when ``quote``;
    NULL when ``expr`` is, which ``concat_ws`` leaves out."""
    value = f"to_json({expr})" if quote else f"'\"' || {expr} || '\"'"
    return f"'\"{name}\":' || {value}"


def pretrimmed(sql: str, alias: str) -> str:
    """``sql`` reading ``{alias}.t_<field>`` (each customer field already passed through
    :func:`connector.kit.pii.text`, once per customer) wherever it would trim the field again:
    ``pii.text`` is idempotent, so the result is the same, with a fraction of the regular
    expressions. The SHA-256 pass-through check also skips values that are not 64
    characters long before running its regular expression."""
    for name in PROFILE:
        trimmed = f"{alias}.t_{name}"
        sql = sql.replace(pii.text(f"{alias}.{name}"), trimmed)
        check = f"regexp_full_match({trimmed}, {pii.HEX64})"
        sql = sql.replace(check, f"(length({trimmed}) = 64 AND {check})")
    return sql
