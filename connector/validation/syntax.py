"""A SQL syntax error in words a user can act on: the line, a caret under the place,
a plain sentence, and the keyword they probably meant.

sqlglot's own descriptions name its internals ("Required keyword: 'expression' missing
for <class 'sqlglot.expressions.core.Mul'>"); :func:`explain` turns its first error
into::

    the SQL does not parse at line 3, column 1:
        SELEC * FROM orders
        ^^^^^
      `SELEC` is not a SQL keyword: did you mean SELECT?
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import sqlglot
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

#: Keywords a misspelling is compared with (the ones a job's query uses).
KEYWORDS = ("SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "JOIN",
            "LEFT", "RIGHT", "INNER", "OUTER", "FULL", "CROSS", "ON", "USING", "AS", "WITH",
            "UNION", "ALL", "DISTINCT", "CASE", "WHEN", "THEN", "ELSE", "END", "AND", "OR",
            "NOT", "NULL", "IS", "IN", "BETWEEN", "LIKE", "CAST", "INTERVAL", "QUALIFY",
            "EXCLUDE", "REPLACE", "VALUES", "OVER", "PARTITION", "DESC", "ASC")

_CLASS = re.compile(r"\s*for <class '[^']*'>")


def explain(sql: str, exc: ParseError | TokenError, first_line: int = 1) -> str:
    """One problem, in several lines, for ``exc`` raised parsing ``sql``; ``first_line``
    is the line of the job file where ``sql`` starts, so the line named is the file's."""
    lines = sql.splitlines() or [""]
    if isinstance(exc, TokenError):
        line, start, width = _unclosed(sql, str(exc))
        sentence = "a quoted text or name is not closed: add its closing `'` or `\"`"
    else:
        error: dict[str, Any] = exc.errors[0] if exc.errors else {}
        line = min(max(int(error.get("line") or 1), 1), len(lines))
        end = int(error.get("col") or len(lines[line - 1]))
        highlight = str(error.get("highlight") or "")
        start, width = max(1, end - len(highlight) + 1), max(1, len(highlight))
        sentence = _sentence(str(error.get("description") or exc), highlight)
        typo = _misspelled(sql, line, end)
        if typo is not None:
            token, keyword = typo
            line, start, width = token.line, token.col - len(token.text) + 1, len(token.text)
            sentence = f"`{token.text}` is not a SQL keyword: did you mean {keyword}?"
    caret = " " * (start - 1) + "^" * width
    return (f"the SQL does not parse at line {first_line + line - 1}, column {start}:\n"
            f"    {lines[line - 1]}\n    {caret}\n  {sentence}")


def _sentence(description: str, highlight: str) -> str:
    """sqlglot's description of the error, in plain words."""
    at = f"`{highlight}`" if highlight else "the end"
    if description.startswith("Invalid expression") or "Unexpected token" in description:
        return f"{at} is unexpected here"
    if description.startswith("Expecting )"):
        return f"a closing parenthesis `)` is missing before {at}"
    if description.startswith("Expecting ("):
        return f"an opening parenthesis `(` is missing before {at}"
    if description.startswith("Required keyword"):
        return (f"a value is missing before {at}: an operator such as `=` or `*` needs one "
                "on each side, and a comma a column after it")
    return _CLASS.sub("", description).rstrip(".")


def _misspelled(sql: str, line: int, end: int) -> tuple[Token, str] | None:
    """The last word up to the error that looks like a misspelled keyword (``WHER``), and
    the keyword, or None."""
    try:
        tokens = sqlglot.tokenize(sql, read="duckdb")
    except (TokenError, ParseError):
        return None
    found = None
    for i, token in enumerate(tokens):
        if (token.line, token.col) > (line, end):
            break
        before = tokens[i - 1].token_type if i else None
        after = tokens[i + 1].token_type if i + 1 < len(tokens) else None
        if TokenType.DOT in (before, after) or before == TokenType.ALIAS:
            continue  # a qualified name or an alias is a name, not a keyword
        guess = _keyword(token)
        if guess:
            found = (token, guess)
    return found


def _keyword(token: Token) -> str | None:
    """The keyword a lone word looks like a misspelling of. Words with ``_`` or digits are
    names (``order_id``), never misspelled keywords."""
    if token.token_type != TokenType.VAR or len(token.text) < 3 \
            or not token.text.isalpha():
        return None
    word = token.text.upper()
    if word in KEYWORDS:
        return None
    near = difflib.get_close_matches(word, KEYWORDS, n=1, cutoff=0.75)
    return near[0] if near else None


def _unclosed(sql: str, message: str) -> tuple[int, int, int]:
    """Line, column and width of the quote that opens the text sqlglot's tokenizer could
    not close (its message quotes what it read: ``Error tokenizing '...'``)."""
    m = re.search(r"Error tokenizing '(.*)'", message, re.DOTALL)
    read = len(m.group(1)) if m else len(sql)
    quote = max(sql.rfind("'", 0, read), sql.rfind('"', 0, read))
    offset = quote if quote >= 0 else max(0, read - 1)
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, column, 1
