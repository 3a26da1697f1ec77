"""DuckDB SQL to Spark SQL: sqlglot's transpiler plus an explicit mapping step.

This and :mod:`connector.sql_check` are the only modules that import sqlglot.
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

from connector.errors import OfframpError
from connector.spark_sql_text import FormatError, comparator, java_replacement, java_time_format

READ = "duckdb"
WRITE = "spark"


class TranspileError(OfframpError):
    """The SQL uses something that has no faithful Spark mapping."""


@dataclass(frozen=True)
class Transpiled:
    """Spark SQL and the notes of the mapping step (one per kind of rewrite)."""

    sql: str
    notes: tuple[str, ...]


class _Notes:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, note: str) -> None:
        self.counts[note] = self.counts.get(note, 0) + 1

    def lines(self) -> tuple[str, ...]:
        return tuple(f"{note}{f' ({n}x)' if n > 1 else ''}" for note, n in self.counts.items())


def to_spark(sql: str, *, what: str = "the query",
             functions: Iterable[str] | None = None) -> Transpiled:
    """Transpile DuckDB ``sql`` to Spark SQL.

    :param what: how errors name this SQL ("the job's query", "meta's shaping SQL").
    :param functions: the Spark session's function names (``SHOW FUNCTIONS``); when
        given, a function call that is neither mapped nor known to Spark fails here,
        naming the function, instead of when Spark analyses the plan.
    """
    try:
        tree = sqlglot.parse_one(sql, read=READ)
    except ParseError as exc:
        raise TranspileError(f"{what} does not parse as DuckDB SQL: {exc}") from None
    notes = _Notes()
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


def _rewrite(tree: exp.Expression, notes: _Notes) -> exp.Expression:
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


def _spark(template: str, **values: exp.Expression) -> exp.Expression:
    """A Spark SQL expression with ``:name`` placeholders filled by ``values``."""
    return exp.replace_placeholders(sqlglot.parse_one(template, read=WRITE), **values)


def _text(node: exp.Expression | None) -> str | None:
    """The value of a string literal, else None."""
    return node.this if isinstance(node, exp.Literal) and node.is_string else None


# -- regular expressions ------------------------------------------------------------------
def _flags(options: exp.Expression | None, function: str, allowed: str = "ci") -> str:
    """DuckDB regex options to a Java inline flag prefix."""
    if options is None:
        return ""
    value = _text(options)
    if value is None:
        raise TranspileError(f"{function}() with computed options has no Spark mapping")
    bad = sorted(set(value) - set(allowed))
    if bad:
        raise TranspileError(f"{function}() option(s) {''.join(bad)!r} have no Spark mapping "
                             f"(supported: {', '.join(allowed)})")
    return "(?i)" if "i" in value else ""


def _pattern(pattern: exp.Expression, prefix: str = "", anchored: bool = False) -> exp.Expression:
    head, tail = (prefix + "^(?:", ")\\z") if anchored else (prefix, "")
    text = _text(pattern)
    if text is not None:
        return exp.Literal.string(head + text + tail)
    if not head and not tail:
        return pattern
    parts = [exp.Literal.string(head), pattern] + ([exp.Literal.string(tail)] if tail else [])
    return exp.Concat(expressions=parts)


def _full_match(node: exp.RegexpFullMatch, notes: _Notes) -> exp.Expression:
    notes.add("mapped regexp_full_match(x, p) -> x RLIKE '^(?:p)\\z' (Spark's RLIKE finds; "
              "anchored to the whole text)")
    prefix = _flags(node.args.get("options"), "regexp_full_match")
    return exp.RegexpLike(this=node.this, expression=_pattern(node.expression, prefix, True))


def _matches(node: exp.RegexpLike, notes: _Notes) -> exp.Expression | None:
    flag = node.args.get("flag")
    if node.args.get("full_match"):
        return None
    notes.add("regexp_matches(x, p) -> x RLIKE p (sqlglot)")
    if flag is None:
        return None
    prefix = _flags(flag, "regexp_matches")
    return exp.RegexpLike(this=node.this, expression=_pattern(node.expression, prefix))


def _replace(node: exp.RegexpReplace, notes: _Notes) -> exp.Expression:
    modifiers = node.args.get("modifiers")
    flags = _text(modifiers) if modifiers is not None else ""
    if flags is None or "g" not in flags:
        raise TranspileError(
            "regexp_replace() without the 'g' option replaces only the first match in DuckDB; "
            "Spark's replaces every match and has no first-only twin: add 'g' if every match "
            "should be replaced")
    prefix = _flags(exp.Literal.string(flags.replace("g", "")), "regexp_replace")
    replacement = node.args.get("replacement")
    text = _text(replacement)
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


def _anonymous(node: exp.Anonymous, notes: _Notes) -> exp.Expression | None:
    name = node.name.lower()
    args = node.expressions
    if name == "to_json" and len(args) == 1:
        notes.add("mapped to_json(x) -> to_json(array(x)) without its brackets (Spark's "
                  "to_json takes structs, maps and arrays only)")
        return _spark(_SCALAR_JSON, x=args[0])
    if name == "isfinite" and len(args) == 1:
        notes.add("mapped isfinite(x) -> abs(x) < double('Infinity') (NaN compares greatest)")
        return _spark("abs(:x) < CAST('Infinity' AS DOUBLE)", x=args[0])
    if name == "isinf" and len(args) == 1:
        notes.add("mapped isinf(x) -> abs(x) = double('Infinity')")
        return _spark("abs(:x) = CAST('Infinity' AS DOUBLE)", x=args[0])
    if name in ("try_strptime", "strptime") and len(args) == 2:
        return _strptime(args[0], args[1], safe=name == "try_strptime", notes=notes)
    return None


def _json_object(node: exp.JSONObject, notes: _Notes) -> exp.Expression:
    pairs = []
    for kv in node.expressions:
        if not isinstance(kv, exp.JSONKeyValue) or _text(kv.this) is None:
            raise TranspileError("json_object() with computed keys has no Spark mapping")
        pairs += [kv.this, kv.expression]
    notes.add("mapped json_object(k, v, ...) -> to_json(named_struct(k, v, ...)) "
              "(nulls kept)")
    struct = exp.Anonymous(this="named_struct", expressions=pairs)
    return _spark("to_json(:s, map('ignoreNullFields', 'false'))", s=struct)


def _format(node: exp.Format, notes: _Notes) -> exp.Expression:
    fmt = _text(node.this)
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


def _is_nan(node: exp.IsNan, notes: _Notes) -> exp.Expression:
    notes.add("mapped isnan(x) -> CASE WHEN x IS NULL THEN NULL ELSE isnan(x) END "
              "(Spark's isnan(NULL) is false)")
    return _spark("CASE WHEN :x IS NULL THEN NULL ELSE isnan(:y) END",
                  x=node.this.copy(), y=node.this)


# -- time -----------------------------------------------------------------------------------
def _java_format(fmt: str, parse: bool) -> str:
    try:
        return java_time_format(fmt, parse=parse)
    except FormatError as exc:
        raise TranspileError(str(exc)) from None


def _strptime(value: exp.Expression, formats: exp.Expression, safe: bool,
              notes: _Notes) -> exp.Expression:
    name = "try_strptime" if safe else "strptime"
    items = formats.expressions if isinstance(formats, exp.Array) else [formats]
    texts = [_text(f) for f in items]
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


def _str_to_time(node: exp.StrToTime, notes: _Notes) -> exp.Expression:
    fmt = _text(node.args.get("format"))
    if fmt is None:
        raise TranspileError("strptime() with a computed format has no Spark mapping")
    return _strptime(node.this, exp.Literal.string(fmt), bool(node.args.get("safe")), notes)


def _time_to_str(node: exp.TimeToStr, notes: _Notes) -> exp.Expression:
    fmt = _text(node.args.get("format"))
    if fmt is None:
        raise TranspileError("strftime() with a computed format has no Spark mapping")
    notes.add("mapped strftime(x, fmt) -> date_format(x, java_fmt)")
    return exp.Anonymous(this="date_format", expressions=[
        node.this, exp.Literal.string(_java_format(fmt, parse=False))])


def _epoch(node: exp.TimeToUnix, notes: _Notes) -> exp.Expression:
    notes.add("mapped epoch(t) -> unix_micros(CAST(t AS TIMESTAMP)) / 1000000 (seconds with "
              "their fraction, as DuckDB)")
    return _spark("unix_micros(CAST(:t AS TIMESTAMP)) / 1000000", t=node.this)


def _cast(node: exp.Cast, notes: _Notes) -> None:
    if node.to.is_type(exp.DataType.Type.TIMESTAMPTZ):
        notes.add("CAST(x AS TIMESTAMPTZ) -> CAST(x AS TIMESTAMP) (sqlglot; the Spark session "
                  "runs in UTC)")
    return None


# -- arithmetic -----------------------------------------------------------------------------
def _div(node: exp.Div, notes: _Notes) -> exp.Expression:
    notes.add("mapped a / b -> try_divide(CAST(a AS DOUBLE), CAST(b AS DOUBLE)) (DuckDB divides "
              "in DOUBLE; x / 0 is NULL on Spark, +-inf or NaN on DuckDB)")
    return _spark("try_divide(CAST(:a AS DOUBLE), CAST(:b AS DOUBLE))",
                  a=node.this, b=node.expression)


def _int_div(node: exp.IntDiv, notes: _Notes) -> exp.Expression:
    notes.add("mapped a // b -> CASE WHEN b = 0 THEN NULL ELSE a DIV b END")
    return _spark("CASE WHEN :b = 0 THEN NULL ELSE :a DIV :c END",
                  b=node.expression.copy(), a=node.this, c=node.expression)


# -- aggregates and windows ----------------------------------------------------------------
def _collect(fn: str, value: exp.Expression, where: exp.Where | None) -> exp.Expression:
    agg: exp.Expression = exp.Anonymous(this=fn, expressions=[value])
    return agg if where is None else exp.Filter(this=agg, expression=where)


def _sorted(order: exp.Order, where: exp.Where | None) -> tuple[exp.Expression, exp.Expression]:
    """``collect_list(named_struct(k0, .., v))`` and its ``v`` values in ORDER BY order."""
    keys = list(order.expressions)
    fields: list[exp.Expression] = []
    for n, key in enumerate(keys):
        fields += [exp.Literal.string(f"k{n}"), key.this]
    fields += [exp.Literal.string("v"), order.this]
    agg = _collect("collect_list", exp.Anonymous(this="named_struct", expressions=fields), where)
    order_by = comparator([(bool(k.args.get("desc")), bool(k.args.get("nulls_first")))
                           for k in keys])
    values = _spark(f"transform(array_sort(:c, (l, r) -> {order_by}), s -> s.v)",
                    c=agg.copy())
    return agg, values


def _string_agg(node: exp.GroupConcat, where: exp.Where | None, notes: _Notes) -> exp.Expression:
    sep = node.args.get("separator") or exp.Literal.string(",")
    value = node.this
    order = value if isinstance(value, exp.Order) else None
    inner = order.this if order is not None else value
    if isinstance(inner, exp.Distinct):
        x = inner.expressions[0]
        keys = list(order.expressions) if order is not None else []
        if any(k.this != x for k in keys) or len(keys) > 1:
            raise TranspileError("string_agg(DISTINCT x ORDER BY y) has no Spark mapping unless "
                                 "y is x")
        agg = _collect("collect_set", x, where)
        values = _spark("array_sort(:a)", a=agg.copy())
        if keys and keys[0].args.get("desc"):
            values = _spark("reverse(:v)", v=values)
        notes.add("mapped string_agg(DISTINCT x, sep ORDER BY x) -> array_join(array_sort("
                  "collect_set(x)), sep) (Spark 4's listagg(DISTINCT) breaks beside other "
                  "DISTINCT aggregates)")
        return _spark("CASE WHEN size(:a) > 0 THEN array_join(:v, :s) END",
                      a=agg, v=values, s=sep)
    if order is not None:
        agg, values = _sorted(order, where)
        notes.add("mapped string_agg(x, sep ORDER BY k) -> array_join(transform(array_sort("
                  "collect_list(named_struct(k, x)), comparator), s -> s.v), sep) (NULL when "
                  "no value, as DuckDB)")
        return _spark("CASE WHEN exists(:a, s -> s.v IS NOT NULL) THEN array_join(:v, :s) END",
                      a=agg, v=values, s=sep)
    agg = _collect("collect_list", value, where)
    notes.add("mapped string_agg(x, sep) -> array_join(collect_list(x), sep) (NULL when no "
              "value, as DuckDB)")
    return _spark("CASE WHEN size(:a) > 0 THEN array_join(:b, :s) END",
                  a=agg, b=agg.copy(), s=sep)


def _list_agg(node: exp.ArrayAgg, where: exp.Where | None, notes: _Notes) -> exp.Expression:
    if not isinstance(node.this, exp.Order):
        notes.add("list(x) -> collect_list(x) (sqlglot; Spark drops NULL elements)")
        return _collect("collect_list", node.this, where)
    if isinstance(node.this.this, exp.Distinct):
        raise TranspileError("list(DISTINCT x ORDER BY ...) has no Spark mapping")
    agg, values = _sorted(node.this, where)
    notes.add("mapped list(x ORDER BY k) -> transform(array_sort(collect_list(named_struct(k, "
              "x)), comparator), s -> s.v) (NULL when no rows, as DuckDB)")
    return _spark("CASE WHEN size(:a) > 0 THEN :v END", a=agg, v=values)


def _aggregate(node: exp.GroupConcat | exp.ArrayAgg, notes: _Notes) -> exp.Expression | None:
    if isinstance(node.parent, exp.Filter):
        return None  # the FILTER's rule rewrites both
    if isinstance(node, exp.GroupConcat):
        return _string_agg(node, None, notes)
    return _list_agg(node, None, notes)


def _filter(node: exp.Filter, notes: _Notes) -> exp.Expression | None:
    agg, where = node.this, node.expression
    if isinstance(node.parent, exp.Window):
        notes.add("mapped agg(x) FILTER (WHERE c) OVER (...) -> agg(CASE WHEN c THEN x END) "
                  "OVER (...) (Spark has no FILTER on window aggregates)")
        value = agg.this
        if isinstance(value, exp.Star) or value is None:
            value = exp.Literal.number(1)
        if isinstance(agg, (exp.GroupConcat, exp.ArrayAgg)) or len(agg.expressions) > 0:
            raise TranspileError(f"{agg.sql(READ)} FILTER (...) OVER (...) has no Spark mapping")
        agg.set("this", exp.Case(ifs=[exp.If(this=where.this, true=value)]))
        return agg
    notes.add("aggregate FILTER (WHERE ...) kept (Spark has it)")
    if isinstance(agg, exp.GroupConcat):
        return _string_agg(agg, where, notes)
    if isinstance(agg, exp.ArrayAgg):
        return _list_agg(agg, where, notes)
    return None


_NEEDS_ORDER = (exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile, exp.PercentRank,
                exp.CumeDist, exp.Lag, exp.Lead)


def _window(node: exp.Window, notes: _Notes) -> exp.Expression | None:
    func = node.this
    if not isinstance(func, _NEEDS_ORDER) or node.args.get("order") is not None:
        return None
    if not isinstance(func, exp.RowNumber):
        raise TranspileError(f"{func.sql(READ)} OVER (...) without ORDER BY has no Spark "
                             "mapping (Spark needs an order): add ORDER BY")
    if node.args.get("partition_by"):
        notes.add("mapped row_number() OVER (PARTITION BY p) -> row_number() OVER (PARTITION "
                  "BY p ORDER BY monotonically_increasing_id())")
        node.set("order", exp.Order(expressions=[exp.Ordered(
            this=exp.Anonymous(this="monotonically_increasing_id", expressions=[]))]))
        return None
    notes.add("mapped row_number() OVER () -> monotonically_increasing_id() + 1 (unique, not "
              "consecutive: an arbitrary order in both engines, without moving all rows to "
              "one Spark partition)")
    return _spark("monotonically_increasing_id() + 1")


def _distinct_counts(node: exp.Select, notes: _Notes) -> None:
    """Spark plans several DISTINCT aggregates of one SELECT by expanding every row once
    per aggregate; ``size(collect_set(x))`` gives the same count (NULLs left out) in one
    pass."""
    counts = [c for c in node.find_all(exp.Count)
              if isinstance(c.this, exp.Distinct) and len(c.this.expressions) == 1
              and c.find_ancestor(exp.Select) is node and not c.find_ancestor(exp.Window)]
    if len(counts) < 2:
        return None
    notes.add("mapped count(DISTINCT x) beside other DISTINCT aggregates -> "
              "size(collect_set(x)) (same count; Spark would expand every row once per "
              "DISTINCT aggregate)")
    for count in counts:
        target = count.parent if isinstance(count.parent, exp.Filter) else count
        where = target.expression if target is not count else None
        collect = _collect("collect_set", count.this.expressions[0], where)
        target.replace(exp.Anonymous(this="size", expressions=[collect]))
    return None


def _bracket(node: exp.Bracket, notes: _Notes) -> exp.Expression | None:
    """DuckDB's ``l[i]`` counts from 1, Spark's from 0: sqlglot shifts a literal index
    but leaves a computed one as it is, one element off; ``element_at`` counts from 1."""
    index = node.expressions[0] if len(node.expressions) == 1 else None
    if index is None or isinstance(index, (exp.Literal, exp.Slice)):
        return None
    notes.add("mapped l[i] (i computed) -> element_at(l, i) (both count from 1)")
    return exp.Anonymous(this="element_at", expressions=[node.this, index])


def _alias(node: exp.Alias, notes: _Notes) -> None:
    if isinstance(node.this, exp.Null) and isinstance(node.parent, exp.Select):
        notes.add("mapped NULL AS x -> CAST(NULL AS STRING) AS x (Spark's untyped NULL column "
                  "never matches in a null-safe join)")
        node.set("this", exp.cast(exp.Null(), exp.DataType.build("STRING")))
    return None


# -- recognized as they are (noted so the transpile step lists every translation) ---------
def _noted(note: str) -> Callable[[exp.Expression, _Notes], None]:
    def rule(node: exp.Expression, notes: _Notes) -> None:
        notes.add(note)
        return None
    return rule


def _trim(node: exp.Trim, notes: _Notes) -> None:
    if node.args.get("expression") is not None and node.args.get("position") == "LEADING":
        notes.add("ltrim(x, chars) -> TRIM(LEADING chars FROM x) (sqlglot)")
    return None


def _cte(node: exp.CTE, notes: _Notes) -> None:
    body = node.this
    source = body.args.get("from_") if isinstance(body, exp.Select) else None
    if isinstance(body, exp.Values) or (source is not None and isinstance(source.this,
                                                                          exp.Values)):
        notes.add("VALUES in a CTE -> SELECT * FROM VALUES (sqlglot)")
    return None


_RULES: list[tuple[type[exp.Expression], Callable[..., exp.Expression | None]]] = [
    (exp.RegexpFullMatch, _full_match),
    (exp.RegexpLike, _matches),
    (exp.RegexpReplace, _replace),
    (exp.JSONObject, _json_object),
    (exp.IsNan, _is_nan),
    (exp.Format, _format),
    (exp.StrToTime, _str_to_time),
    (exp.TimeToStr, _time_to_str),
    (exp.TimeToUnix, _epoch),
    (exp.Cast, _cast),
    (exp.Div, _div),
    (exp.IntDiv, _int_div),
    (exp.GroupConcat, _aggregate),
    (exp.ArrayAgg, _aggregate),
    (exp.Filter, _filter),
    (exp.Window, _window),
    (exp.Trim, _trim),
    (exp.Alias, _alias),
    (exp.Bracket, _bracket),
    (exp.Select, _distinct_counts),
    (exp.CTE, _cte),
    (exp.StartsWith, _noted("starts_with(a, b) -> startswith(a, b) (sqlglot)")),
    (exp.StrPosition, _noted("position(a IN b) -> locate(a, b) (sqlglot)")),
    (exp.SHA2, _noted("sha256(x) -> sha2(x, 256) (sqlglot)")),
    (exp.NullSafeEQ, _noted("IS NOT DISTINCT FROM kept (Spark has it)")),
    (exp.NullSafeNEQ, _noted("IS DISTINCT FROM kept (Spark has it)")),
    (exp.Anonymous, _anonymous),
]
