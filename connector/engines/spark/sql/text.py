"""Text of Spark SQL that the transpile step (:mod:`connector.engines.spark.sql.transpile`) writes:
Java datetime patterns, Java regex replacement strings, ``array_sort`` comparators.
Plain strings in, plain strings out: no sqlglot here.
"""

from __future__ import annotations


class FormatError(ValueError):
    """A DuckDB format specifier with no Java equivalent."""


#: DuckDB strftime/strptime specifiers -> Java (Spark) datetime pattern letters, for
#: formatting and for parsing (parsing accepts one or two digits, as DuckDB does, when
#: the field is not glued to a neighbouring field).
TIME_SPECIFIERS = {
    "Y": ("yyyy", "yyyy"), "y": ("yy", "yy"), "m": ("MM", "M"), "-m": ("M", "M"),
    "d": ("dd", "d"), "-d": ("d", "d"), "B": ("MMMM", "MMMM"), "b": ("MMM", "MMM"),
    "H": ("HH", "H"), "-H": ("H", "H"), "I": ("hh", "h"), "-I": ("h", "h"),
    "M": ("mm", "mm"), "S": ("ss", "ss"), "f": ("SSSSSS", "SSSSSS"), "g": ("SSS", "SSS"),
    "p": ("a", "a"), "z": ("XX", "XX"), "j": ("DDD", "D"), "A": ("EEEE", "EEEE"),
    "a": ("EEE", "EEE"),
}


def java_time_format(fmt: str, parse: bool) -> str:
    """A DuckDB format string (``%m/%d/%Y``) as a Spark pattern (``M/d/yyyy``).

    >>> java_time_format("%Y-%m-%dT%H:%M:%S", parse=False)
    "yyyy-MM-dd'T'HH:mm:ss"
    """
    tokens: list[tuple[str, str]] = []  # (kind, text): kind "f" field or "l" literal
    i = 0
    while i < len(fmt):
        if fmt[i] == "%" and i + 1 < len(fmt):
            spec = fmt[i + 1]
            if spec == "-" and i + 2 < len(fmt):
                spec = "-" + fmt[i + 2]
            if spec == "%":
                tokens.append(("l", "%"))
            elif spec in TIME_SPECIFIERS:
                tokens.append(("f", spec))
            else:
                raise FormatError(f"the time format specifier %{spec} in {fmt!r} has no "
                                  "Spark mapping")
            i += 1 + len(spec)
            continue
        tokens.append(("l", fmt[i]))
        i += 1
    out: list[str] = []
    literal = ""
    for n, (kind, text) in enumerate(tokens):
        if kind == "l":
            literal += text
            continue
        out.append(_quote_literal(literal))
        literal = ""
        glued = any(0 <= j < len(tokens) and tokens[j][0] == "f" for j in (n - 1, n + 1))
        strict, loose = TIME_SPECIFIERS[text]
        out.append(loose if parse and not glued else strict)
    out.append(_quote_literal(literal))
    return "".join(out)


def _quote_literal(text: str) -> str:
    """Literal text in a Java pattern: letters and quotes go inside single quotes."""
    if not any(ch.isalpha() or ch == "'" for ch in text):
        return text
    return "'" + text.replace("'", "''") + "'"


def java_replacement(value: str) -> str:
    """An RE2 rewrite string (``\\1``, ``\\\\``) as a Java one (``$1``, ``\\$``)."""
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append(f"${nxt}" if nxt.isdigit() else "\\\\" if nxt == "\\" else nxt)
            i += 2
            continue
        out.append("\\$" if ch == "$" else ch)
        i += 1
    return "".join(out)


def comparator(keys: list[tuple[bool, bool]]) -> str:
    """A Spark ``array_sort`` comparator over struct fields k0, k1 ... of ``l`` and ``r``,
    ordering like ORDER BY k0, k1 ... with each key's (DESC, NULLS FIRST) flags
    (DuckDB's default: ASC NULLS LAST)."""
    expr = "0"
    for n in reversed(range(len(keys))):
        desc, nulls_first = keys[n]
        lo, hi = ("1", "-1") if desc else ("-1", "1")
        nl, nr = ("-1", "1") if nulls_first else ("1", "-1")
        f = f"k{n}"
        expr = (f"CASE WHEN l.{f} IS NULL AND r.{f} IS NULL THEN {expr} "
                f"WHEN l.{f} IS NULL THEN {nl} WHEN r.{f} IS NULL THEN {nr} "
                f"WHEN l.{f} < r.{f} THEN {lo} WHEN l.{f} > r.{f} THEN {hi} ELSE {expr} END")
    return expr
