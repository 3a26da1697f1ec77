"""Keeping what must not be shown out of messages: warehouse values quoted in DuckDB's
errors (customer data), and secrets in the messages of exceptions a run lets through."""

from __future__ import annotations

import os
import re

from connector.engines.warehouse import DEFAULT_MEMORY_LIMIT
from connector.kit.secrets import redact


def engine_message(exc: Exception, scrub: bool = False,
                   what: str = "DuckDB refused the query") -> str:
    """DuckDB's error in one line, after ``what``: the one path every surface (CLI, Python
    API, the runs table) takes for DuckDB's errors. ``scrub``: for errors raised while
    reading rows, whose messages may quote a value (an email that does not cast, a
    string that is not UTF-8): quoted values are masked, file paths kept."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    message = f"{what}: {redact(scrub_values(text) if scrub else text)}"
    if text.startswith("Out of Memory Error"):
        message += _OUT_OF_MEMORY
    return message


_OUT_OF_MEMORY = (". Give DuckDB more memory in offramp.toml: [engine] memory_limit = \"4GB\" "
                  f"(the default is {DEFAULT_MEMORY_LIMIT}; DuckDB spills to disk up to it), "
                  "or fewer threads with [engine] threads = 1")


_QUOTED = re.compile(r"""(?P<q>["'])(?P<v>.*?)(?P=q)|(?P<w>\bwith value )(?P<n>\S+)""")


def scrub_values(text: str) -> str:
    """Mask quoted values (and DuckDB's ``with value X``) in an error message, so that
    no warehouse value reaches the screen or the runs table; quoted paths of files
    that exist stay, so the message still says which file is wrong.

    >>> scrub_values('Could not convert string "ann@example.com" to INT32')
    'Could not convert string "…" to INT32'
    """
    def mask(m: re.Match[str]) -> str:
        if m.group("w"):
            return m.group("w") + "…"
        value = m.group("v")
        if value and os.sep in value and os.path.exists(value):
            return m.group(0)
        return m.group("q") + "…" + m.group("q")

    return _QUOTED.sub(mask, text)


def redact_exception(exc: BaseException | None) -> None:
    """Scrub secrets from the messages of an exception and those it chains, in place
    (a plugin's bug may put a token in one)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        exc = exc.__cause__ or exc.__context__
