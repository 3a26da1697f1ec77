"""DuckDB aggregates and windows to Spark's: ordered and filtered ``string_agg`` and
``list``, FILTER on window aggregates, ``row_number()`` without an order, and several
DISTINCT counts in one SELECT. Rules of :func:`connector.engines.spark.sql.transpile.to_spark`."""

from __future__ import annotations

from sqlglot import exp

from connector.engines.spark.sql.base import READ, Notes, TranspileError, spark
from connector.engines.spark.sql.text import comparator


def _collect(fn: str, value: exp.Expr, where: exp.Where | None) -> exp.Expr:
    agg: exp.Expr = exp.Anonymous(this=fn, expressions=[value])
    return agg if where is None else exp.Filter(this=agg, expression=where)


def _sorted(order: exp.Order, where: exp.Where | None) -> tuple[exp.Expr, exp.Expr]:
    """``collect_list(named_struct(k0, .., v))`` and its ``v`` values in ORDER BY order."""
    keys = list(order.expressions)
    fields: list[exp.Expr] = []
    for n, key in enumerate(keys):
        fields += [exp.Literal.string(f"k{n}"), key.this]
    fields += [exp.Literal.string("v"), order.this]
    agg = _collect("collect_list", exp.Anonymous(this="named_struct", expressions=fields), where)
    order_by = comparator([(bool(k.args.get("desc")), bool(k.args.get("nulls_first")))
                           for k in keys])
    values = spark(f"transform(array_sort(:c, (l, r) -> {order_by}), s -> s.v)",
                    c=agg.copy())
    return agg, values


def _string_agg(node: exp.GroupConcat, where: exp.Where | None, notes: Notes) -> exp.Expr:
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
        values = spark("array_sort(:a)", a=agg.copy())
        if keys and keys[0].args.get("desc"):
            values = spark("reverse(:v)", v=values)
        notes.add("mapped string_agg(DISTINCT x, sep ORDER BY x) -> array_join(array_sort("
                  "collect_set(x)), sep) (Spark 4's listagg(DISTINCT) breaks beside other "
                  "DISTINCT aggregates)")
        return spark("CASE WHEN size(:a) > 0 THEN array_join(:v, :s) END",
                      a=agg, v=values, s=sep)
    if order is not None:
        agg, values = _sorted(order, where)
        notes.add("mapped string_agg(x, sep ORDER BY k) -> array_join(transform(array_sort("
                  "collect_list(named_struct(k, x)), comparator), s -> s.v), sep) (NULL when "
                  "no value, as DuckDB)")
        return spark("CASE WHEN exists(:a, s -> s.v IS NOT NULL) THEN array_join(:v, :s) END",
                      a=agg, v=values, s=sep)
    agg = _collect("collect_list", value, where)
    notes.add("mapped string_agg(x, sep) -> array_join(collect_list(x), sep) (NULL when no "
              "value, as DuckDB)")
    return spark("CASE WHEN size(:a) > 0 THEN array_join(:b, :s) END",
                  a=agg, b=agg.copy(), s=sep)


def _list_agg(node: exp.ArrayAgg, where: exp.Where | None, notes: Notes) -> exp.Expr:
    if not isinstance(node.this, exp.Order):
        notes.add("list(x) -> collect_list(x) (sqlglot; Spark drops NULL elements)")
        return _collect("collect_list", node.this, where)
    if isinstance(node.this.this, exp.Distinct):
        raise TranspileError("list(DISTINCT x ORDER BY ...) has no Spark mapping")
    agg, values = _sorted(node.this, where)
    notes.add("mapped list(x ORDER BY k) -> transform(array_sort(collect_list(named_struct(k, "
              "x)), comparator), s -> s.v) (NULL when no rows, as DuckDB)")
    return spark("CASE WHEN size(:a) > 0 THEN :v END", a=agg, v=values)


def aggregate(node: exp.GroupConcat | exp.ArrayAgg, notes: Notes) -> exp.Expr | None:
    if isinstance(node.parent, exp.Filter):
        return None  # the FILTER's rule rewrites both
    if isinstance(node, exp.GroupConcat):
        return _string_agg(node, None, notes)
    return _list_agg(node, None, notes)


def filter_(node: exp.Filter, notes: Notes) -> exp.Expr | None:
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


def window(node: exp.Window, notes: Notes) -> exp.Expr | None:
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
    return spark("monotonically_increasing_id() + 1")


def distinct_counts(node: exp.Select, notes: Notes) -> None:
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
