"""Every sqlglot call offramp makes goes through this module.

:func:`check_query` parses a job's SQL (DuckDB dialect), refuses anything but one
read-only query, and resolves its output column names against the warehouse's
schema (aliases, CTEs, joins, ``SELECT *``, ``* EXCLUDE``, UNION branches), before
any row is read. (:mod:`connector.validation.contract` compares those columns with
what a destination needs.)
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.schema import MappingSchema
from sqlglot.tokens import TokenType

from connector.kit.errors import ValidationError
from connector.validation.syntax import explain

DIALECT = "duckdb"
# sqlglot logs a warning when it falls back to a generic Command; we report it ourselves.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

#: Table functions that read files or other databases: a job reads the warehouse only.
_FILE_READERS = re.compile(
    r"^(read_|glob$|parquet_|sqlite_|postgres_|mysql_|iceberg_|delta_|query_table|"
    r".*_scan$|load_|duckdb_|pragma_)", re.IGNORECASE)
#: The only table functions a job may call: they read nothing. Everything else is
#: refused, so a table function added by a new DuckDB release (``query()``,
#: ``sniff_csv()``, ``enable_logging()``...) cannot open a way around the checks.
_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree",
                              "repeat", "repeat_row"})
#: Scalar functions that write: ``nextval()`` advances a sequence and ``setval()`` sets one
#: (the state file has some: run ids, the ledger's order).
_WRITING_FUNCTIONS = frozenset({"nextval", "setval"})
#: Scalar functions that read DuckDB's settings, catalog, session or environment (a
#: setting such as ``allowed_directories`` names paths; ``getenv`` reads secrets).
_CATALOG_FUNCTIONS = re.compile(
    r"^(current_(setting|database|catalog|schemas?|user|role|query(_id)?|connection_id|"
    r"transaction_id|version)|session_user|user|version|getenv|which_secret|in_search_path|"
    r"(col|obj|shobj)_description|has_\w+_privilege|pg_(?!typeof$|size_pretty$)\w+|"
    r"txid_current|duckdb_\w+|pragma_\w+|write_log)$", re.IGNORECASE)
#: DuckDB's catalog views, reachable by their bare names.
_CATALOG_VIEWS = re.compile(r"^(duckdb|pg|sqlite|pragma)_\w+$", re.IGNORECASE)
#: Where the warehouse's tables live once attached (see connector.engines.warehouse.Engine).
_WAREHOUSE_QUALIFIERS = frozenset({"wh", "main", "memory"})

_WRITE_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name) for name in (
        "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Copy", "Command",
        "Pragma", "Set", "Use", "Attach", "Detach", "Install", "Load", "Transaction",
        "Commit", "Rollback", "TruncateTable", "Describe", "Export", "Grant", "Revoke",
        "Analyze", "Summarize", "Into")
    if hasattr(exp, name))


#: sqlglot parses and resolves recursively: deep nesting exhausts Python's stack.
TOO_DEEP = ("the query nests too deeply for the SQL parser: parentheses or subqueries nested "
            "this deep exhaust the stack it parses with; flatten the expression, or move "
            "nested parts into CTEs (WITH name AS (...))")


@contextlib.contextmanager
def _parser_stack() -> Iterator[None]:
    """Turn sqlglot running out of stack on a deeply nested query into a refusal."""
    try:
        yield
    except RecursionError:
        raise ValidationError([TOO_DEEP]) from None


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed :func:`check_query`: its SQL and its output columns."""

    sql: str
    columns: tuple[str, ...]


def _statement_kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return (node.name or "command").upper()
    if isinstance(node, exp.Column):  # a lone word such as CHECKPOINT parses as a column
        return node.name.upper()
    return node.key.upper()


def parse_one_query(sql: str, first_line: int = 1) -> exp.Query:
    """Parse ``sql`` and return its single read-only query, or raise
    :class:`ValidationError` saying what is not allowed. ``first_line``: the line of the
    job file where ``sql`` starts, for the line a syntax error names."""
    with _parser_stack():
        return _parse_one_query(sql, first_line)


def _parse_one_query(sql: str, first_line: int) -> exp.Query:
    if not sql.strip():
        raise ValidationError(["the job has no SQL: write one SELECT after the header"])
    try:
        # a comment after the last ';' parses as an empty statement (exp.Semicolon)
        statements = [s for s in sqlglot.parse(sql, dialect=DIALECT)
                      if s is not None and not isinstance(s, exp.Semicolon)]
    except (ParseError, TokenError) as exc:
        raise ValidationError([explain(sql, exc, first_line)]) from None
    if not statements:
        raise ValidationError(["the job has no SQL: write one SELECT after the header"])
    if len(statements) > 1:
        kinds = ", ".join(_statement_kind(s) for s in statements)
        raise ValidationError([f"a job holds exactly one query; found {len(statements)} "
                               f"statements ({kinds}): keep only the SELECT"])
    node = statements[0]
    if not isinstance(node, exp.Query) and not isinstance(node, exp.Values):
        raise ValidationError([f"a job must be one read-only query (SELECT, WITH, UNION, "
                               f"VALUES); {_statement_kind(node)} is not allowed"])
    for inner in node.walk():
        if isinstance(inner, _WRITE_NODES):
            raise ValidationError([f"a job must be read-only; it contains "
                                   f"{_statement_kind(inner)}"])
        if isinstance(inner, exp.Table) and (
                isinstance(inner.this, exp.Literal) or
                (isinstance(inner.this, exp.Identifier) and "." in inner.name
                 and "/" in inner.name or inner.name.endswith((".parquet", ".csv", ".json")))):
            raise ValidationError([f"a job reads the warehouse's tables only; it reads the file "
                                   f"{inner.name!r}: expose it through the warehouse instead"])
        if isinstance(inner, (exp.Func, exp.Anonymous)):
            fname = inner.sql_name() if not isinstance(inner, exp.Anonymous) else inner.name
            fname = (fname or "").lower()
            if fname in _WRITING_FUNCTIONS:
                raise ValidationError([f"a job must be read-only; {fname}() changes a sequence"])
            if _CATALOG_FUNCTIONS.match(fname) and not isinstance(inner.parent,
                                                                  (exp.Table, exp.Lateral)):
                raise ValidationError([f"a job reads the warehouse's tables only; {fname}() "
                                       "reads DuckDB's settings, catalog or environment"])
            if fname and isinstance(inner.parent, (exp.Table, exp.Lateral)) \
                    and fname not in _TABLE_FUNCTIONS:
                if _FILE_READERS.match(fname):
                    raise ValidationError([f"a job reads the warehouse's tables only; "
                                           f"{fname}() reads files or other databases"])
                allowed = ", ".join(sorted(_TABLE_FUNCTIONS))
                raise ValidationError([f"a job reads the warehouse's tables only; the table "
                                       f"function {fname}() is not allowed (allowed: {allowed})"])
    return node  # type: ignore[return-value]


def check_query(sql: str, schema: dict[str, dict[str, str]],
                first_line: int = 1) -> CheckedQuery:
    """Validate ``sql`` and resolve its output columns against ``schema``
    (table -> {column: type}); ``first_line`` as for :func:`parse_one_query`.

    >>> check_query("SELECT o.id AS order_id, * EXCLUDE (id) FROM orders o",
    ...             {"orders": {"id": "INT", "email": "VARCHAR"}}).columns
    ('order_id', 'email')
    """
    with _parser_stack():
        return _check_query(sql, schema, first_line)


def _check_query(sql: str, schema: dict[str, dict[str, str]], first_line: int) -> CheckedQuery:
    node = parse_one_query(sql, first_line)
    _check_tables(node, schema)
    mapping = MappingSchema(dict(schema), dialect=DIALECT, normalize=True)
    try:
        qualified = qualify(node.copy(), schema=mapping, dialect=DIALECT,
                            validate_qualify_columns=True, quote_identifiers=False,
                            identify=False)
    except OptimizeError as exc:
        raise ValidationError([_explain(str(exc), node, schema)]) from None
    columns = _output_names(node, qualified, schema)
    lowered = [c.lower() for c in columns]  # DuckDB's names are case-insensitive
    dupes = sorted({c for c in lowered if lowered.count(c) > 1})
    if dupes:
        raise ValidationError([f"the query returns the column {d!r} more than once: alias one "
                               "of them" for d in dupes])
    return CheckedQuery(sql=_trimmed(sql), columns=columns)


def _trimmed(sql: str) -> str:
    """``sql`` up to its last token: without trailing semicolons and comments, so that
    it can be wrapped in parentheses (a trailing ``-- comment`` would swallow the
    closing one)."""
    tokens = [t for t in sqlglot.tokenize(sql, read=DIALECT)
              if t.token_type != TokenType.SEMICOLON]
    return sql[:tokens[-1].end + 1].strip() if tokens else sql.strip()


def _output_names(node: exp.Expr, qualified: exp.Expr,
                  schema: dict[str, dict[str, str]]) -> tuple[str, ...]:
    """The names DuckDB gives the output columns.

    sqlglot lowercases identifiers and invents names (``_col_1``, or the inner
    column of a CAST) for unaliased expressions. DuckDB keeps an alias as written,
    spells a column as its table does, names an unaliased expression after its
    text (approximated here: DuckDB writes ``(a * 2)``, ``count_star()``), and names
    the columns of a bare VALUES ``col0``, ``col1``... The contract check uses
    DuckDB's own DESCRIBE; these names serve the duplicate check and messages.
    """
    if isinstance(node, exp.Values):
        first = node.expressions[0] if node.expressions else None
        return tuple(f"col{i}" for i in range(len(first.expressions) if first else 0))
    spelled: dict[str, str] = {}
    for ident in node.find_all(exp.Identifier):  # aliases written in the query first
        if isinstance(ident.parent, (exp.Alias, exp.TableAlias)):
            spelled.setdefault(ident.name.lower(), ident.name)
    for cols in schema.values():
        for col in cols:
            spelled.setdefault(col.lower(), col)

    def leftmost(query: exp.Expr) -> exp.Expr:
        while isinstance(query, (exp.SetOperation, exp.Subquery)):
            query = query.this
        return query

    original, resolved = leftmost(node), leftmost(qualified)
    if not isinstance(original, exp.Select) or not isinstance(resolved, exp.Select):
        names = qualified.named_selects if isinstance(qualified, exp.Query) else []
        return tuple(spelled.get(n.lower(), n) for n in names)
    written, expanded = original.expressions, resolved.expressions
    has_star = any(isinstance(e, exp.Star) or (isinstance(e, exp.Column)
                                               and isinstance(e.this, exp.Star))
                   for e in written)
    one_to_one = not has_star and len(written) == len(expanded)
    names = []
    for i, select in enumerate(expanded):
        mine = written[i] if one_to_one else None
        if isinstance(mine, exp.Alias):
            names.append(mine.alias)
        elif mine is not None and not isinstance(mine, exp.Column):
            names.append(mine.sql(dialect=DIALECT))
        else:
            names.append(spelled.get(select.alias_or_name.lower(), select.alias_or_name))
    return tuple(names)


def _check_tables(node: exp.Expr, schema: dict[str, dict[str, str]]) -> None:
    """Every table the query reads must be a CTE in scope where it is read, or a
    warehouse table. A name that is neither resolves, in DuckDB, to its catalog
    (``duckdb_tables``, ``sqlite_master``, ``pg_settings``...), so a CTE defined inside
    a subquery does not make its name safe elsewhere: scopes are resolved as SQL does."""
    known = {t.lower() for t in schema}
    problems = []
    ctes = _cte_references(node)
    for table in node.find_all(exp.Table):
        name = table.name
        if isinstance(table.this, (exp.Func, exp.Anonymous)) or id(table) in ctes:
            continue
        qualifiers = [part.name.lower() for part in (table.args.get("catalog"),
                                                     table.args.get("db")) if part]
        if qualifiers and not set(qualifiers) <= _WAREHOUSE_QUALIFIERS:
            # state.ledger, information_schema.tables, other attached databases
            full = ".".join([*(p.name for p in (table.args.get("catalog"), table.args.get("db"))
                               if p), name])
            problems.append(f"table {full!r} is not in the warehouse "
                            f"(tables: {', '.join(sorted(schema)) or 'none'})")
            continue
        if not name or name.lower() in known:
            continue
        if _CATALOG_VIEWS.match(name):
            problems.append(f"table {name!r} is not in the warehouse: it is one of DuckDB's "
                            "catalog views, which a job may not read")
            continue
        near = difflib.get_close_matches(name, list(schema), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        available = "" if near else f" (tables: {', '.join(sorted(schema)) or 'none'})"
        problems.append(f"table {name!r} is not in the warehouse{hint}{available}")
    if problems:
        raise ValidationError(sorted(set(problems)))


def _cte_references(node: exp.Expr) -> set[int]:
    """The ``id`` of every table reference in ``node`` that names a CTE visible where
    it stands (sqlglot's scopes know which CTEs each subquery sees). Names compare
    case-insensitively, as DuckDB's do, quoted or not."""
    copy = node.copy()
    original = {id(mine): theirs for mine, theirs in zip(copy.walk(), node.walk(), strict=True)}
    for ident in copy.find_all(exp.Identifier):
        ident.set("this", ident.name.lower())
    found: set[int] = set()
    try:
        scopes = traverse_scope(copy)
    except OptimizeError:  # unresolvable: no CTE is trusted, each name must be a table
        return found
    for scope in scopes:
        for table in scope.tables:
            if table.args.get("db") or table.args.get("catalog"):
                continue
            source = scope.sources.get(table.alias_or_name)
            if isinstance(source, Scope) and table.name in scope.cte_sources:
                found.add(id(original[id(table)]))
    return found


def _explain(message: str, node: exp.Expr, schema: dict[str, dict[str, str]]) -> str:
    """Turn sqlglot's resolution error into advice."""
    known_columns = sorted({c for cols in schema.values() for c in cols})
    for column in node.find_all(exp.Column):
        ident = column.this
        if isinstance(ident, exp.Identifier) and ident.quoted and \
                ident.name.lower() not in {c.lower() for c in known_columns}:
            return (f'"{ident.name}" is read as a column name (double quotes mark identifiers '
                    f"in DuckDB); for a text value use single quotes: '{ident.name}'")
    m = re.search(r"Column '\"?([^'\"]+)\"?' could not be resolved", message) or \
        re.search(r"Unknown column: \"?([^\"\s,]+)", message)
    if m:
        missing = m.group(1)
        near = difflib.get_close_matches(missing, known_columns, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        return f"column {missing!r} is not in the warehouse tables the query reads{hint}"
    m = re.search(r"Unknown table:? '?\"?([^'\"]+)", message) or \
        re.search(r"Table '?([^' ]+)'? .*not found", message)
    if m:
        missing = m.group(1)
        near = difflib.get_close_matches(missing, list(schema), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        return f"table {missing!r} is not in the warehouse{hint}"
    return f"the query does not resolve against the warehouse: {message}"
