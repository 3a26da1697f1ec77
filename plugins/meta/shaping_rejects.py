"""The reject rules of the Meta shaping query's ``events`` step, in order
(:data:`REJECTS`): an event's ``reject_reason`` is the reason of the first rule that holds,
NULL when none does (the event is sent). The rules read the group ``o`` (``grouped``),
its customer ``u`` (``users``) and its route ``r`` (``routes``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connector.kit import pii
from connector.kit.sql import shown
from plugins.meta.settings import ACTION_SOURCES, MAX_EVENT_NAME
from plugins.meta.shaping_context import Shaping, q, q_list

#: The reject reasons that the run's clock alone can change (``reject_timed``): an order
#: from the future becomes sendable, and the window is longer before the first send.
FUTURE = "event_time is in the future"
TOO_OLD = "older than the "
#: The reject of an order whose rows name different customers.
SPANNING = ("the rows of this order carry different customer fields (email, phone, name, "
            "address or ids): give every row of one order the same customer")


@dataclass(frozen=True)
class Rule:
    """A reject rule: when the SQL condition ``when`` holds, the event is rejected for
    ``reason`` (an SQL text expression). ``below``: THEN starts a line of its own."""

    when: str
    reason: str
    below: bool = False

    def sql(self) -> str:
        """The rule as a branch of the ``CASE``: ``WHEN <when> THEN <reason>``."""
        return f"WHEN {self.when}{_BELOW if self.below else ' '}THEN {self.reason}"


#: Before a THEN on a line of its own.
_BELOW = "\n" + " " * 16


def _lines(*parts: str, indent: int) -> str:
    """SQL written over several lines, each after the first indented by ``indent``
    (17 after a condition's first line, 21 after ``THEN`` on a line of its own)."""
    return ("\n" + " " * indent).join(parts)


def reject_reason(ctx: Shaping) -> str:
    """``reject_reason``: a ``CASE`` of the :data:`REJECTS`, one line each."""
    return ("CASE\n            " + "\n            ".join(_line(rule(ctx)) for rule in REJECTS)
            + "\n        END AS reject_reason")


def _line(made: Rule | tuple[Rule, ...]) -> str:
    """A rule's line of the ``CASE``. Rules made together (a tuple) share one line, each
    followed by a space, and leave it blank when there are none: the query's text is
    part of every run's fingerprint, and this is how it has always been laid out."""
    if isinstance(made, Rule):
        return made.sql()
    return "".join(f"{rule.sql()} " for rule in made)


def _code(expr: str, quote: bool = True) -> str:
    """A currency as a reason shows it: only a 3-letter code (reasons never quote what
    may be customer data written to the wrong column)."""
    return shown(expr, "A-Za-z", 3, quote)


def no_time(ctx: Shaping) -> Rule:
    """An order without a time (missing, or not a time nor epoch seconds)."""
    return Rule("o.event_time IS NULL", "'timestamp is missing or not a time'")


def bad_quantity(ctx: Shaping) -> Rule:
    """A line without a finite, sane quantity (returns are lines, not orders: not here)."""
    return Rule("o.missing_quantity > 0",
                "'quantity is missing, not a finite number, or absurd'")


def fractional_quantity(ctx: Shaping) -> Rule:
    """A line with a fraction of a unit: Meta's ``contents.quantity`` is an integer."""
    return Rule("o.fractional_quantity > 0",
                _lines("'quantity must be a whole number of units '",
                       "|| '(Meta''s contents.quantity is an integer)'", indent=17))


def bad_price(ctx: Shaping) -> Rule:
    """A line without a finite, sane price."""
    return Rule("o.bad_price > 0", "'price is missing, not a finite number, or absurd'")


def bad_value(ctx: Shaping) -> tuple[Rule, ...]:
    """With a value column: lines that disagree on it, or an order without a finite one
    (no rule without a value column: the value is the sum of price x quantity)."""
    if ctx.value_col is None:
        return ()
    return (Rule("o.min_value IS DISTINCT FROM o.max_value",
                 "'the value column differs between rows of one order'"),
            Rule("o.min_value IS NULL OR NOT isfinite(o.min_value)",
                 "'value is missing or not a number'"))


def mixed_currencies(ctx: Shaping) -> Rule:
    """Lines in several currencies, named by the smallest and largest."""
    return Rule("o.currency <> o.last_currency",
                _lines("'mixed currencies in one order ('",
                       f"|| {_code('o.currency', False)} || ', ' "
                       f"|| {_code('o.last_currency', False)} || ')'",
                       indent=16))


def bad_currency(ctx: Shaping) -> Rule:
    """A currency that is not an ISO 4217 code."""
    return Rule(f"o.currency IS NULL OR NOT {pii.currency_ok('o.currency')}",
                _lines(f"'currency ' || {_code('o.currency')}",
                       "|| ' is not an ISO 4217 code'", indent=21), below=True)


def mixed_action_sources(ctx: Shaping) -> Rule:
    """Lines with different action sources."""
    return Rule("o.action_source <> o.last_action_source",
                "'more than one action_source in one order'", below=True)


def mixed_event_names(ctx: Shaping) -> Rule:
    """Lines whose event names map to different standard events."""
    return Rule("o.first_mapped_name <> o.last_mapped_name",
                "'more than one event_name in one order'", below=True)


def bad_action_source(ctx: Shaping) -> Rule:
    """An action source that Meta does not accept."""
    return Rule(f"o.action_source NOT IN ({q_list(ACTION_SOURCES)})",
                _lines(f"'action_source ' || {shown('o.action_source', 'a-z_', 30)} "
                       "|| ' is not one of '",
                       f"|| {q(', '.join(ACTION_SOURCES))}", indent=21), below=True)


def long_event_name(ctx: Shaping) -> Rule:
    """An event name longer than Meta accepts (:data:`MAX_EVENT_NAME` characters). Custom
    names are sent as they are; blank ones never reach here (they are ``Purchase``)."""
    return Rule(f"length(o.event_name) > {MAX_EVENT_NAME}",
                _lines(f"'event_name is longer than the {MAX_EVENT_NAME} characters Meta "
                       "accepts: '",
                       "|| 'shorten it or map it with [settings] event_names'", indent=21),
                below=True)


def no_dataset(ctx: Shaping) -> Rule:
    """An event name that ``datasets`` routes nowhere (and no ``dataset_id`` for the rest)."""
    return Rule("r.dataset_id IS NULL",
                _lines(f"'no dataset mapped for event_name ' || {shown('o.event_name')}",
                       "|| ': add it to [settings] datasets'", indent=16))


def spanning_customers(ctx: Shaping) -> Rule:
    """Rows of one order with different customer fields (:data:`SPANNING`)."""
    return Rule("o.customer <> o.last_customer OR o.customer_check <> o.last_customer_check",
                q(SPANNING), below=True)


def incomplete_website(ctx: Shaping) -> Rule:
    """A website event without the fields Meta requires of one (its ``event_id`` is
    never missing: it defaults to the order id)."""
    return Rule(_lines("o.action_source = 'website' AND (u.client_user_agent IS NULL",
                       "OR o.event_source_url IS NULL)", indent=17),
                "'website events need client_user_agent and event_source_url'",
                below=True)


def no_contact(ctx: Shaping) -> Rule:
    """A customer without a usable email or phone in ``user_data``."""
    return Rule("position('\"em\":' IN u.user_data) = 0 AND position('\"ph\":' IN u.user_data) = 0",
                "'no usable email or phone (missing or invalid after normalization)'",
                below=True)


def in_future(ctx: Shaping) -> Rule:
    """An order more than a minute after the run's clock (:data:`FUTURE`)."""
    return Rule(f"o.event_time > {ctx.now + 60}", q(FUTURE), below=True)


def too_old(ctx: Shaping) -> Rule:
    """An order older than Meta's window: ``store_window_days`` for ``physical_store``
    events, ``window_days`` for the others (:data:`TOO_OLD`)."""
    store, other = ctx.store_window_days, ctx.window_days
    return Rule(_lines(f"o.event_time < {ctx.now} - CASE WHEN o.action_source = 'physical_store'",
                       f"THEN {store * 86400} ELSE {other * 86400} END", indent=17),
                _lines(f"{q(TOO_OLD)} || CASE WHEN o.action_source = 'physical_store'",
                       f"THEN {store} ELSE {other} END",
                       "|| '-day window Meta accepts'", indent=21), below=True)


#: The reject rules, in order: the first that holds gives the event's reason.
REJECTS: tuple[Callable[[Shaping], Rule | tuple[Rule, ...]], ...] = (
    no_time, bad_quantity, fractional_quantity, bad_price, bad_value, mixed_currencies,
    bad_currency, mixed_action_sources, mixed_event_names, bad_action_source,
    long_event_name, no_dataset, spanning_customers, incomplete_website, no_contact,
    in_future, too_old)
