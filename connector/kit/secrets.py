"""Secrets: read from environment variables only, and never shown.

Job files name the environment variable that holds a secret (for example
``access_token_env = "META_ACCESS_TOKEN"``); :func:`from_env` reads it. Every
value read this way is remembered so that :func:`redact` can scrub it from any
text offramp prints, logs or stores.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from urllib.parse import quote, quote_plus, urlsplit

from connector.kit.errors import ConfigError

_known: set[str] = set()
_lock = threading.Lock()
MASK = "***"


class Secret:
    """A secret value whose ``str`` and ``repr`` never show it."""

    __slots__ = ("_value", "env")

    def __init__(self, value: str, env: str = ""):
        self._value = value
        self.env = env
        remember(value)

    def reveal(self) -> str:
        """The value itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret(env={self.env!r})"

    __str__ = __repr__


def remember(value: str) -> None:
    """Register a value to be scrubbed from output (values under 4 characters are ignored).

    The forms the value takes in a URL's query string and in JSON text are scrubbed too:
    an error quoting ``response.url`` carries ``tok%2Fen``, not ``tok/en``.
    """
    if value and len(value) >= 4:
        forms = {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
        with _lock:
            _known.update(forms)


def remember_from_environment(value: str) -> None:
    """Register a value that a setting read from the environment (``${NAME}`` in a job's
    settings): it may be a secret written where a secret does not belong, so it is
    scrubbed from the moment it is read, like one. A plain http(s) address (scheme,
    host, port and path; no user, password, query or fragment) is the one exception:
    messages need it to say where a request went.

    >>> remember_from_environment("EAAB-a-token-in-the-wrong-setting")
    >>> redact("dataset EAAB-a-token-in-the-wrong-setting")
    'dataset ***'
    >>> remember_from_environment("http://127.0.0.1:8080/v1")
    >>> redact("cannot reach http://127.0.0.1:8080/v1")
    'cannot reach http://127.0.0.1:8080/v1'
    """
    if not _plain_address(value):
        remember(value)


def _plain_address(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and not (parts.username or parts.password or parts.query or parts.fragment)
            and value.isascii() and value.isprintable() and " " not in value)


def from_env(env: str, purpose: str) -> Secret:
    """Read the secret in environment variable ``env``.

    >>> import os; os.environ["DOCTEST_TOKEN"] = "s3cr3t-value"
    >>> from_env("DOCTEST_TOKEN", "the doctest API")
    Secret(env='DOCTEST_TOKEN')
    >>> redact("token=s3cr3t-value")
    'token=***'
    """
    value = os.environ.get(env, "")
    if not value.strip():
        raise ConfigError(f"{purpose} needs a secret: set the environment variable {env}")
    return Secret(value.strip(), env)


def redact(text: str) -> str:
    """Replace every known secret in ``text`` with ``***``."""
    if not text:
        return text
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        # Tracebacks are formatted after filters run; format them now, scrubbed
        # (formatters reuse exc_text when it is set).
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
