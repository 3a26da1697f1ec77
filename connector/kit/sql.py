"""Writing values and names into DuckDB SQL text.

Destinations build their shaping SQL as text; every value and name that comes from a
job (a setting, a column name) goes in through these two functions, so that a quote
inside it can never end the literal or the identifier early.

>>> literal("O'Brien")
"'O''Brien'"
>>> identifier('my "odd" column')
'"my ""odd"" column"'
>>> literals(["a", "b'c"])
"'a', 'b''c'"

:func:`let` names a computed value once, for expressions that use it several times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def literal(value: str) -> str:
    """``value`` as a DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def identifier(name: str) -> str:
    """``name`` as a double-quoted DuckDB identifier (a column, table or view name)."""
    return '"' + name.replace('"', '""') + '"'


def literals(values: Iterable[str]) -> str:
    """Several string literals separated by commas, for ``IN (...)`` and ``VALUES``."""
    return ", ".join(literal(v) for v in values)


def let(value: str, body: Callable[[str], str], name: str = "v") -> str:
    """SQL that computes ``value`` once and gives it to ``body``: ``body`` receives the
    name that stands for the value and returns the expression that uses it.

    Expressions are built as text, so an expression that uses its input three times holds
    three copies of it, and rules built on each other multiply the copies (and the time
    DuckDB takes to plan the query). The value is bound as a one-element list's lambda
    parameter, which DuckDB computes once per row and Spark reads as
    ``transform(array(...), ...)``. ``name`` is prefixed with ``offramp_`` so it cannot
    hide a column of the query; a ``let`` inside ``body`` with the same name hides the
    outer one inside its own body only.

    DuckDB compiles each regular expression of a lambda's body every time it runs the
    lambda over a chunk of rows. A pattern that is costly to compile (large Unicode
    classes such as ``\\p{Lu}``) belongs outside ``body``, or in a ``let`` of its own
    inside a ``CASE`` branch, which DuckDB runs only for the rows that take the branch.

    >>> let("upper(x)", lambda v: f"{v} || lower({v})", "up")
    'list_transform([upper(x)], lambda offramp_up: offramp_up || lower(offramp_up))[1]'
    """
    param = f"offramp_{name}"
    return f"list_transform([{value}], lambda {param}: {body(param)})[1]"


def shown(expr: str, chars: str = "A-Za-z _-", longest: int = 40, quote: bool = True) -> str:
    """SQL text that echoes the value of ``expr`` in a reject reason only when it is safe
    to: at most ``longest`` characters, each in the regular-expression class ``chars``;
    else the words ``(value not shown)``, and ``NULL`` for NULL. Reasons are stored in the
    state file and exported by ``offramp rejects``, so they never quote customer data,
    not even a value written to the wrong column (an email as the currency). The default
    class has no digits, ``@`` or ``.``: no email address or phone number passes it.

    >>> shown("o.currency", "A-Za-z", 3)  # doctest: +NORMALIZE_WHITESPACE
    "CASE WHEN o.currency IS NULL THEN 'NULL' WHEN regexp_full_match(o.currency,
    '[A-Za-z]{1,3}') THEN '''' || o.currency || '''' ELSE '(value not shown)' END"
    """
    if "'" in chars or "]" in chars:
        raise ValueError("chars is a regular-expression class without quotes or ]")
    value = f"'''' || {expr} || ''''" if quote else expr
    return (f"CASE WHEN {expr} IS NULL THEN 'NULL' WHEN regexp_full_match({expr}, "
            f"'[{chars}]{{1,{int(longest)}}}') THEN {value} ELSE '(value not shown)' END")
