"""DuckDB SQL to Spark SQL: sqlglot's transpiler plus an explicit mapping step.

This module, its helpers (``connector/sql_spark_*.py``) and :mod:`connector.validation.query`
are the only modules that import sqlglot.
:func:`to_spark` parses a job's query or a destination's shaping SQL in the DuckDB
dialect, rewrites the functions whose Spark twin behaves differently or does not
exist (each rewrite is reported as a note: the transpile step prints them), and
writes Spark SQL. Where no faithful mapping exists it raises
:class:`TranspileError` naming the function, rather than sending different data.

The Spark session is expected to run with ``spark.sql.session.timeZone=UTC`` (as
DuckDB's engine does) and ANSI mode on (Spark 4's default: a failed CAST raises, as
in DuckDB). See ``docs/spark.md`` for the semantics that still differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, UnsupportedError

from connector.engines.spark.sql.aggregates import aggregate, distinct_counts, filter_, window
from connector.engines.spark.sql.base import (
    READ,
    WRITE,
    Notes,
    TranspileError,
    constant_text,
    literal_text,
    spark,
)
from connector.engines.spark.sql.text import FormatError, java_replacement, java_time_format

__all__ = ["TranspileError", "Transpiled", "to_spark"]


@dataclass(frozen=True)
class Transpiled:
    """Spark SQL and the notes of the mapping step (one per kind of rewrite)."""

    sql: str
    notes: tuple[str, ...]


def to_spark(sql: str, *, what: str = "the query",
             functions: Iterable[str] | None = None) -> Transpiled:
    """Transpile DuckDB ``sql`` to Spark SQL.

    :param what: how errors name this SQL ("the job's query", "meta's shaping SQL").
    :param functions: the Spark session's function names (``SHOW FUNCTIONS``); when
        given, a function call that is neither mapped nor known to Spark fails here,
        naming the function, instead of when Spark analyses the plan.
    """
    try:
        return _to_spark(sql, what, functions)
    except RecursionError:  # sqlglot parses and writes recursively
        raise TranspileError(f"{what} nests too deeply for the SQL parser: flatten it, or "
                             "move nested parts into CTEs") from None


def _to_spark(sql: str, what: str, functions: Iterable[str] | None) -> Transpiled:
    try:
        tree = sqlglot.parse_one(sql, read=READ)
    except ParseError as exc:
        raise TranspileError(f"{what} does not parse as DuckDB SQL: {exc}") from None
    notes = Notes()
    try:
        tree = _rewrite(tree, notes)
    except TranspileError as exc:
        raise TranspileError(f"{what}: {exc}") from None
    if functions is not None:
        known = {f.lower() for f in functions}
        for node in tree.find_all(exp.Anonymous):
            if node.name.lower() not in known:
                raise TranspileError(
                    f"{what}: the function {node.name}() has no Spark twin and the transpile "
                    "step has no mapping for it; rewrite it, or run this job on DuckDB")
    try:
        out = tree.sql(dialect=WRITE, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise TranspileError(f"{what}: sqlglot cannot write it for Spark: {exc}") from None
    return Transpiled(out, notes.lines())


def _rewrite(tree: exp.Expr, notes: Notes) -> exp.Expr:
    """Apply the rules bottom-up: children are rewritten before their parents."""
    for node in reversed(list(tree.walk())):
        for kind, rule in _RULES:
            if isinstance(node, kind):
                new = rule(node, notes)
                if new is not None and new is not node:
                    if node is tree:
                        tree = new
                    else:
                        node.replace(new)
                break
    return tree


# -- regular expressions ------------------------------------------------------------------
def _flags(options: exp.Expr | None, function: str, allowed: str = "ci") -> str:
    """DuckDB regex options to a Java inline flag prefix."""
    if options is None:
        return ""
    value = literal_text(options)
    if value is None:
        raise TranspileError(f"{function}() with computed options has no Spark mapping")
    bad = sorted(set(value) - set(allowed))
    if bad:
        raise TranspileError(f"{function}() option(s) {''.join(bad)!r} have no Spark mapping "
                             f"(supported: {', '.join(allowed)})")
    return "(?i)" if "i" in value else ""


def _pattern(pattern: exp.Expr, prefix: str = "", anchored: bool = False) -> exp.Expr:
    head, tail = (prefix + "^(?:", ")\\z") if anchored else (prefix, "")
    text = literal_text(pattern)
    if text is not None:
        return exp.Literal.string(head + text + tail)
    if not head and not tail:
        return pattern
    parts = [exp.Literal.string(head), pattern] + ([exp.Literal.string(tail)] if tail else [])
    return exp.Concat(expressions=parts)


def _full_match(node: exp.RegexpFullMatch, notes: Notes) -> exp.Expr:
    notes.add("mapped regexp_full_match(x, p) -> x RLIKE '^(?:p)\\z' (Spark's RLIKE finds; "
              "anchored to the whole text)")
    prefix = _flags(node.args.get("options"), "regexp_full_match")
    return exp.RegexpLike(this=node.this, expression=_pattern(node.expression, prefix, True))


def _matches(node: exp.RegexpLike, notes: Notes) -> exp.Expr | None:
    flag = node.args.get("flag")
    if node.args.get("full_match"):
        return None
    notes.add("regexp_matches(x, p) -> x RLIKE p (sqlglot)")
    if flag is None:
        return None
    prefix = _flags(flag, "regexp_matches")
    return exp.RegexpLike(this=node.this, expression=_pattern(node.expression, prefix))


def _replace(node: exp.RegexpReplace, notes: Notes) -> exp.Expr:
    modifiers = node.args.get("modifiers")
    flags = literal_text(modifiers) if modifiers is not None else ""
    if flags is None or "g" not in flags:
        raise TranspileError(
            "regexp_replace() without the 'g' option replaces only the first match in DuckDB; "
            "Spark's replaces every match and has no first-only twin: add 'g' if every match "
            "should be replaced")
    prefix = _flags(exp.Literal.string(flags.replace("g", "")), "regexp_replace")
    replacement = node.args.get("replacement")
    text = constant_text(replacement)
    if replacement is not None and text is None:
        raise TranspileError("regexp_replace() with a computed replacement has no Spark mapping "
                             "(group references differ: \\1 in DuckDB, $1 in Spark)")
    notes.add("mapped regexp_replace(x, p, r, 'g') -> regexp_replace(x, p, r) (Spark replaces "
              "every match; \\1 -> $1 in r)")
    return exp.RegexpReplace(this=node.this, expression=_pattern(node.expression, prefix),
                             replacement=exp.Literal.string(java_replacement(text or "")))


# -- JSON ---------------------------------------------------------------------------------
_SCALAR_JSON = ("nullif(regexp_extract(to_json(array(:x), map('ignoreNullFields', 'false')), "
                "'(?s)^\\\\[(.*)\\\\]$', 1), 'null')")


def _chr(node: exp.Chr, notes: Notes) -> exp.Expr:
    """``chr(n)`` of a constant becomes the character itself: Spark's ``chr`` gives the
    character ``n % 256``, DuckDB's any code point."""
    args = node.expressions
    if len(args) == 1 and isinstance(args[0], exp.Literal) and not args[0].is_string:
        notes.add("mapped chr(n) -> the character n as a literal (Spark's chr is n % 256)")
        return exp.Literal.string(chr(int(args[0].this)))
    raise TranspileError("chr() of a computed code point has no Spark mapping (Spark's chr "
                         "gives the character n % 256): write chr() of a constant")


def _anonymous(node: exp.Anonymous, notes: Notes) -> exp.Expr | None:
    name = node.name.lower()
    args = node.expressions
    if name == "strlen" and len(args) == 1:
        notes.add("mapped strlen(x) -> octet_length(x) (the UTF-8 bytes of the text)")
        return exp.Anonymous(this="octet_length", expressions=list(args))
    if name == "to_json" and len(args) == 1:
        notes.add("mapped to_json(x) -> to_json(array(x)) without its brackets (Spark's "
                  "to_json takes structs, maps and arrays only)")
        return spark(_SCALAR_JSON, x=args[0])
    if name == "isfinite" and len(args) == 1:
        notes.add("mapped isfinite(x) -> abs(x) < double('Infinity') (NaN compares greatest)")
        return spark("abs(:x) < CAST('Infinity' AS DOUBLE)", x=args[0])
    if name == "isinf" and len(args) == 1:
        notes.add("mapped isinf(x) -> abs(x) = double('Infinity')")
        return spark("abs(:x) = CAST('Infinity' AS DOUBLE)", x=args[0])
    if name == "hash":
        notes.add("mapped hash(...) -> xxhash64(...) (64 bits, as DuckDB's; Spark's hash() has "
                  "32: a different value, equal where DuckDB's are equal)")
        return exp.Anonymous(this="xxhash64", expressions=list(args))
    if name in ("try_strptime", "strptime") and len(args) == 2:
        return _strptime(args[0], args[1], safe=name == "try_strptime", notes=notes)
    return None


def _json_object(node: exp.JSONObject, notes: Notes) -> exp.Expr:
    pairs = []
    for kv in node.expressions:
        if not isinstance(kv, exp.JSONKeyValue) or literal_text(kv.this) is None:
            raise TranspileError("json_object() with computed keys has no Spark mapping")
        pairs += [kv.this, kv.expression]
    notes.add("mapped json_object(k, v, ...) -> to_json(named_struct(k, v, ...)) "
              "(nulls kept)")
    struct = exp.Anonymous(this="named_struct", expressions=pairs)
    return spark("to_json(:s, map('ignoreNullFields', 'false'))", s=struct)


def _format(node: exp.Format, notes: Notes) -> exp.Expr:
    fmt = literal_text(node.this)
    if fmt is None or "{" in fmt.replace("{}", ""):
        raise TranspileError("format() with a computed format or {:...} specifiers has no Spark "
                             "mapping (only {} placeholders are)")
    notes.add("mapped format('... {} ...', x) -> format_string('... %s ...', x) (NULL when "
              "an argument is NULL, as DuckDB)")
    call = exp.Anonymous(this="format_string", expressions=[
        exp.Literal.string(fmt.replace("%", "%%").replace("{}", "%s")), *node.expressions])
    if not node.expressions:
        return call
    null = exp.or_(*(exp.Is(this=e.copy(), expression=exp.Null()) for e in node.expressions))
    return exp.Case(ifs=[exp.If(this=null, true=exp.Null())], default=call)


def _is_nan(node: exp.IsNan, notes: Notes) -> exp.Expr:
    notes.add("mapped isnan(x) -> CASE WHEN x IS NULL THEN NULL ELSE isnan(x) END "
              "(Spark's isnan(NULL) is false)")
    return spark("CASE WHEN :x IS NULL THEN NULL ELSE isnan(:y) END",
                  x=node.this.copy(), y=node.this)


# -- time -----------------------------------------------------------------------------------
def _java_format(fmt: str, parse: bool) -> str:
    try:
        return java_time_format(fmt, parse=parse)
    except FormatError as exc:
        raise TranspileError(str(exc)) from None


def _strptime(value: exp.Expr, formats: exp.Expr, safe: bool,
              notes: Notes) -> exp.Expr:
    name = "try_strptime" if safe else "strptime"
    items = formats.expressions if isinstance(formats, exp.Array) else [formats]
    texts = [literal_text(f) for f in items]
    if not texts or any(t is None for t in texts):
        raise TranspileError(f"{name}() with a computed format has no Spark mapping")
    fn = "try_to_timestamp" if safe else "to_timestamp"
    calls = [exp.Anonymous(this=fn, expressions=[value.copy(), exp.Literal.string(
        _java_format(t or "", parse=True))]) for t in texts]
    if len(calls) == 1:
        notes.add(f"mapped {name}(x, fmt) -> {fn}(x, java_fmt)")
        return calls[0]
    if not safe:
        raise TranspileError("strptime() with a list of formats has no Spark mapping: use "
                             "try_strptime()")
    notes.add("mapped try_strptime(x, [fmt, ...]) -> coalesce(try_to_timestamp(x, java_fmt), "
              "...)")
    return exp.Coalesce(this=calls[0], expressions=calls[1:])


def _str_to_time(node: exp.StrToTime, notes: Notes) -> exp.Expr:
    fmt = literal_text(node.args.get("format"))
    if fmt is None:
        raise TranspileError("strptime() with a computed format has no Spark mapping")
    return _strptime(node.this, exp.Literal.string(fmt), bool(node.args.get("safe")), notes)


def _time_to_str(node: exp.TimeToStr, notes: Notes) -> exp.Expr:
    fmt = literal_text(node.args.get("format"))
    if fmt is None:
        raise TranspileError("strftime() with a computed format has no Spark mapping")
    notes.add("mapped strftime(x, fmt) -> date_format(x, java_fmt)")
    return exp.Anonymous(this="date_format", expressions=[
        node.this, exp.Literal.string(_java_format(fmt, parse=False))])


def _epoch(node: exp.TimeToUnix, notes: Notes) -> exp.Expr:
    notes.add("mapped epoch(t) -> unix_micros(CAST(t AS TIMESTAMP)) / 1000000 (seconds with "
              "their fraction, as DuckDB)")
    return spark("unix_micros(CAST(:t AS TIMESTAMP)) / 1000000", t=node.this)


def _cast(node: exp.Cast, notes: Notes) -> None:
    if node.to.is_type(exp.DataType.Type.TIMESTAMPTZ):
        notes.add("CAST(x AS TIMESTAMPTZ) -> CAST(x AS TIMESTAMP) (sqlglot; the Spark session "
                  "runs in UTC)")
    return None


# -- arithmetic -----------------------------------------------------------------------------
def _div(node: exp.Div, notes: Notes) -> exp.Expr:
    notes.add("mapped a / b -> try_divide(CAST(a AS DOUBLE), CAST(b AS DOUBLE)) (DuckDB divides "
              "in DOUBLE; x / 0 is NULL on Spark, +-inf or NaN on DuckDB)")
    return spark("try_divide(CAST(:a AS DOUBLE), CAST(:b AS DOUBLE))",
                  a=node.this, b=node.expression)


def _int_div(node: exp.IntDiv, notes: Notes) -> exp.Expr:
    notes.add("mapped a // b -> CASE WHEN b = 0 THEN NULL ELSE a DIV b END")
    return spark("CASE WHEN :b = 0 THEN NULL ELSE :a DIV :c END",
                  b=node.expression.copy(), a=node.this, c=node.expression)


def _bracket(node: exp.Bracket, notes: Notes) -> exp.Expr | None:
    """DuckDB's ``l[i]`` counts from 1, Spark's from 0: sqlglot shifts a literal index
    but leaves a computed one as it is, one element off; ``element_at`` counts from 1."""
    index = node.expressions[0] if len(node.expressions) == 1 else None
    if index is None or isinstance(index, (exp.Literal, exp.Slice)):
        return None
    notes.add("mapped l[i] (i computed) -> element_at(l, i) (both count from 1)")
    return exp.Anonymous(this="element_at", expressions=[node.this, index])


def _alias(node: exp.Alias, notes: Notes) -> None:
    if isinstance(node.this, exp.Null) and isinstance(node.parent, exp.Select):
        notes.add("mapped NULL AS x -> CAST(NULL AS STRING) AS x (Spark's untyped NULL column "
                  "never matches in a null-safe join)")
        node.set("this", exp.cast(exp.Null(), exp.DataType.build("STRING")))
    return None


# -- recognized as they are (noted so the transpile step lists every translation) ---------
def _noted(note: str) -> Callable[[exp.Expr, Notes], None]:
    def rule(node: exp.Expr, notes: Notes) -> None:
        notes.add(note)
        return None
    return rule


def _trim(node: exp.Trim, notes: Notes) -> None:
    if node.args.get("expression") is not None and node.args.get("position") == "LEADING":
        notes.add("ltrim(x, chars) -> TRIM(LEADING chars FROM x) (sqlglot)")
    return None


def _cte(node: exp.CTE, notes: Notes) -> None:
    body = node.this
    source = body.args.get("from_") if isinstance(body, exp.Select) else None
    if isinstance(body, exp.Values) or (source is not None and isinstance(source.this,
                                                                          exp.Values)):
        notes.add("VALUES in a CTE -> SELECT * FROM VALUES (sqlglot)")
    return None


_RULES: list[tuple[type[exp.Expr], Callable[..., exp.Expr | None]]] = [
    (exp.RegexpFullMatch, _full_match),
    (exp.RegexpLike, _matches),
    (exp.RegexpReplace, _replace),
    (exp.Chr, _chr),
    (exp.JSONObject, _json_object),
    (exp.IsNan, _is_nan),
    (exp.Format, _format),
    (exp.StrToTime, _str_to_time),
    (exp.TimeToStr, _time_to_str),
    (exp.TimeToUnix, _epoch),
    (exp.Cast, _cast),
    (exp.Div, _div),
    (exp.IntDiv, _int_div),
    (exp.GroupConcat, aggregate),
    (exp.ArrayAgg, aggregate),
    (exp.Filter, filter_),
    (exp.Window, window),
    (exp.Trim, _trim),
    (exp.Alias, _alias),
    (exp.Bracket, _bracket),
    (exp.Select, distinct_counts),
    (exp.CTE, _cte),
    (exp.StartsWith, _noted("starts_with(a, b) -> startswith(a, b) (sqlglot)")),
    (exp.StrPosition, _noted("position(a IN b) -> locate(a, b) (sqlglot)")),
    (exp.SHA2, _noted("sha256(x) -> sha2(x, 256) (sqlglot)")),
    (exp.NullSafeEQ, _noted("IS NOT DISTINCT FROM kept (Spark has it)")),
    (exp.NullSafeNEQ, _noted("IS DISTINCT FROM kept (Spark has it)")),
    (exp.Anonymous, _anonymous),
]
