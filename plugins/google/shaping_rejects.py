"""The reject rules of the google shaping query's ``events`` step, in order
(:data:`REJECTS`): an event's ``reject_reason`` is the reason of the first rule that
holds, NULL when none does (the event is sent). Each rule stands for something Google
would refuse (the request would fail whole, fast-fail) or could not use. The rules read
the group ``o`` (``grouped``) and its customer ``u`` (``users``). Reasons name columns
and rules, never a customer's values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connector.kit import pii
from plugins.google.shaping_context import Shaping, q
from plugins.google.shaping_rows import NOT_A_CONSENT

#: The reasons the run's clock alone can change (``reject_timed``).
FUTURE = "timestamp is in the future"
TOO_OLD = "older than the "
#: The reject of an order whose rows name different customers.
SPANNING = ("the rows of this order carry different customer fields (email, phone, name or "
            "address): give every row of one order the same customer")


@dataclass(frozen=True)
class Rule:
    """When the SQL condition ``when`` holds, the event is rejected for ``reason`` (an
    SQL text expression)."""

    when: str
    reason: str

    def sql(self) -> str:
        return f"WHEN {self.when} THEN {self.reason}"


def reject_reason(ctx: Shaping) -> str:
    """``reject_reason``: a ``CASE`` of the :data:`REJECTS` that apply to the job."""
    rules = [made for rule in REJECTS for made in _rules(rule(ctx))]
    return ("CASE\n            " + "\n            ".join(r.sql() for r in rules)
            + "\n        END AS reject_reason")


def _rules(made: Rule | tuple[Rule, ...]) -> tuple[Rule, ...]:
    return made if isinstance(made, tuple) else (made,)


def no_time(ctx: Shaping) -> Rule:
    return Rule("o.event_time IS NULL", q("timestamp is missing or not a time"))


def bad_quantity(ctx: Shaping) -> tuple[Rule, ...]:
    """A line without a finite, sane quantity, or with a fraction of a unit (cart items
    count whole units: ``quantity`` is an int64)."""
    return (Rule("o.missing_quantity > 0", q("quantity is missing, not a finite number, or "
                                             "absurd")),
            Rule("o.fractional_quantity > 0", q("quantity must be a whole number of units "
                                                "(Google's cart item quantity is an integer)")))


def bad_price(ctx: Shaping) -> Rule:
    """A line without a finite, sane price (when the value is price x quantity)."""
    return Rule("o.bad_price > 0", q("price is missing, not a finite number, or absurd"))


def bad_value(ctx: Shaping) -> tuple[Rule, ...]:
    """With a value column: lines that disagree on it, or no finite value; and a negative
    value, whichever way it was made."""
    negative = Rule("o.value < 0", q("the order's value is negative (Google takes a "
                                     "conversion value of zero or more)"))
    if not ctx.has("value"):
        return (negative,)
    return (Rule("o.min_value IS DISTINCT FROM o.max_value",
                 q("the value column differs between rows of one order")),
            Rule("o.min_value IS NULL OR NOT isfinite(o.min_value)",
                 q("value is missing or not a number")), negative)


def bad_currency(ctx: Shaping) -> tuple[Rule, ...]:
    return (Rule("o.currency <> o.last_currency", q("more than one currency in one order")),
            Rule(f"o.currency IS NULL OR NOT {pii.currency_ok('o.currency')}",
                 q("currency is missing or not an ISO 4217 code such as USD")))


def bad_action(ctx: Shaping) -> tuple[Rule, ...]:
    """Rows routed to no conversion action, or one order's rows to several."""
    if not ctx.has("conversion_action"):
        return ()
    return (Rule("o.no_action > 0",
                 q("conversion_action is neither a conversion action id nor a name in "
                   "[settings] conversion_actions" + (
                       "" if ctx.default_action else
                       ", and there is no conversion_action_id for rows without one"))),
            Rule("o.action <> o.last_action",
                 q("the rows of this order name different conversion actions")))


def spanning_customers(ctx: Shaping) -> Rule:
    return Rule("o.customer <> o.last_customer OR o.customer_check <> o.last_customer_check",
                q(SPANNING))


def bad_clicks(ctx: Shaping) -> tuple[Rule, ...]:
    """Click ids the order's rows disagree on, and the combinations Google refuses: both
    braids, a braid with a gclid, a braid with user identifiers."""
    rules = [Rule(f"o.{n} <> o.last_{n}", q(f"the rows of this order carry different {n}s"))
             for n in ("gclid", "gbraid", "wbraid") if ctx.has(n)]
    if ctx.has("gbraid") and ctx.has("wbraid"):
        rules.append(Rule("o.gbraid IS NOT NULL AND o.wbraid IS NOT NULL",
                          q("gbraid and wbraid are both set: Google takes one of them")))
    braid = " OR ".join(f"o.{n} IS NOT NULL" for n in ("gbraid", "wbraid") if ctx.has(n))
    if braid:
        rules += [Rule(f"({braid}) AND o.gclid IS NOT NULL",
                       q("a gbraid or wbraid cannot go with a gclid: send one click id")),
                  Rule(f"({braid}) AND u.identifiers <> ''",
                       q("a gbraid or wbraid cannot go with user identifiers (email, phone, "
                         "address): leave those empty on rows with a braid"))]
    return tuple(rules)


def bad_consent(ctx: Shaping) -> tuple[Rule, ...]:
    """Consent values that are none; ad-user-data consent denied (by the row, else the
    job's default: Google would not use the conversion); with ``consent_required``, no
    ad-user-data consent at all."""
    rules = [Rule(f"o.{n} = {NOT_A_CONSENT}",
                  q(f"{n} is not a consent value (granted/denied, true/false, yes/no)"))
             for n in ("ad_user_data", "ad_personalization") if ctx.has(n)]
    effective = f"coalesce(o.ad_user_data, {_default_consent(ctx)})"
    rules.append(Rule(f"{effective} = 2", q(
        "ad_user_data consent is denied: Google does not use the conversion "
        "(DENIED_CONSENT)")))
    if ctx.consent_required:
        rules.append(Rule(f"{effective} IS NULL", q(
            "no ad_user_data consent (the row has none and the job sets no default), and "
            "consent_required is on")))
    return tuple(rules)


def _default_consent(ctx: Shaping) -> str:
    return {"CONSENT_GRANTED": "1", "CONSENT_DENIED": "2"}.get(ctx.ad_user_data or "", "NULL")


def no_identifier(ctx: Shaping) -> Rule:
    clicks = " AND ".join(f"o.{n} IS NULL" for n in ("gclid", "gbraid", "wbraid"))
    return Rule(f"coalesce(u.identifiers, '') = '' AND {clicks}", q(
        "no usable identifier: no gclid, gbraid or wbraid, and no email, phone or full "
        "address (given_name, surname, postal, country) after normalization"))


def in_future(ctx: Shaping) -> Rule:
    return Rule(f"o.event_time > {ctx.now + 60}", q(FUTURE))


def too_old(ctx: Shaping) -> Rule:
    days = ctx.max_age_days
    return Rule(f"o.event_time < {ctx.now - days * 86400}",
                q(f"{TOO_OLD}{days}-day window (max_age_days): Google would refuse it as "
                  "EVENT_TOO_OLD"))


#: The reject rules, in order: the first that holds gives the event's reason.
REJECTS: tuple[Callable[[Shaping], Rule | tuple[Rule, ...]], ...] = (
    no_time, bad_quantity, bad_price, bad_value, bad_currency, bad_action,
    spanning_customers, bad_clicks, bad_consent, no_identifier, in_future, too_old)
