"""Secrets: read from environment variables only, and never shown.

Job files name the environment variable that holds a secret (for example
``access_token_env = "META_ACCESS_TOKEN"``); :func:`from_env` reads it. Every
value read this way is remembered so that :func:`redact` can scrub it from any
text offramp prints, logs or stores.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import threading
from collections.abc import Iterable
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


#: What :func:`safe_reason` writes in place of a value.
NOT_SHOWN = "(value not shown)"
#: How long a reason :func:`safe_reason` returns may be, in characters.
REASON_LENGTH = 500

_QUOTES = {"'": "'", '"': '"', "`": "`", "\u2018": "\u2019", "\u201c": "\u201d"}
#: Shapes left as they are: dates and times (they look like digit runs), and the address
#: of an http(s) request (where offramp sent it, never a customer's), up to its query.
_KEEP = (r"(?P<keep>\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\b"
         r"|\b\d{1,2}:\d{2}:\d{2}\b"
         r"|\bhttps?://[\w.:\[\]-]+(?:/[\w.~%/-]*)?(?![\w@.~%/-]|:\S))")
_VALUES = re.compile("|".join([
    _KEEP,
    # A quoted value: the quote opens after no letter (not Meta's) and closes before none.
    *(rf"(?<!\w){re.escape(q)}[^{re.escape(q + c)}\n]{{1,300}}{re.escape(c)}(?!\w)"
      for q, c in _QUOTES.items()),
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # an email address
    r"(?<![\w.:])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])",  # an IPv4 address
    r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])",  # IPv6 (checked below)
    # A user agent: a product/version with a (comment), or two products in a row.
    r"\b[A-Za-z][\w.-]*/\d[\w.]*(?:\s*\([^()\n]{1,200}\)|\s+[A-Za-z][\w.-]*/\d[\w.]*)"
    r"(?:\s*\([^()\n]{1,200}\)|\s+[A-Za-z][\w.-]*/\d[\w.]*)*",
    r"\b[0-9A-Fa-f]{16,}\b",  # a hexadecimal token: a hash, a long id
    r"(?<![\w+/-])[A-Za-z0-9+/_-]{24,}={0,2}(?![\w+/=-])",  # base64 (checked below)
    r"(?<![\w.])\+?\(?\d[\d ().-]{5,}\d(?![\w.])",  # a run of digits (checked below)
]))


def _masked(match: re.Match[str]) -> str:
    text = match.group(0)
    if match.group("keep"):
        return text
    digits = sum(ch.isdigit() for ch in text)
    if ":" in text and text[0] not in _QUOTES:  # IPv6: compressed, with a letter, or 8 groups
        return NOT_SHOWN if ("::" in text or any(ch.isalpha() for ch in text)
                             or text.count(":") == 7) else text
    if text[0].isdigit() or text[0] in "+(":
        if "." in text and text.count(".") == 3 and digits == len(text) - 3:
            return NOT_SHOWN  # IPv4
        if all(ch in "0123456789 ().-+" for ch in text):
            # A phone: ten digits or more, or seven with a + or - or ( (a 7-digit error
            # code or "429 1000" stays).
            phone = digits >= 10 or (digits >= 7 and any(ch in text for ch in "+-("))
            return NOT_SHOWN if phone else text
    if text[0] not in _QUOTES and "@" not in text and "/" not in text.rstrip("=") \
            and not all(ch in "0123456789abcdefABCDEF" for ch in text):
        # base64: letters of both cases and digits, as random bytes give (a long word,
        # a setting's name or a path has not all three)
        mixed = (any(ch.isupper() for ch in text) and any(ch.islower() for ch in text)
                 and digits > 0)
        return NOT_SHOWN if mixed else text
    return NOT_SHOWN


def safe_reason(text: str, longest: int = REASON_LENGTH, keep: Iterable[str] = ()) -> str:
    """An API's reason text (an error message, a rejection) made safe to store and show:
    secrets scrubbed (:func:`redact`), and each value the API may have echoed from what
    it was sent replaced by ``(value not shown)``: quoted text ('…', "…", `…`), email
    addresses, phone-like runs of digits, IP addresses, user agents, and long hexadecimal
    or base64 tokens (hashed identifiers). The API's words, error codes, counts, dates
    and field names stay; the text is at most ``longest`` characters. offramp applies it
    to every reason a destination returns (rejections, failures), so they never put
    customer data in the ledger, ``offramp rejects`` or the runs table; a plugin may use
    it for other text it keeps from an API. ``keep``: values known not to be customer
    data (offramp passes the job's settings: a dataset or account id), shown when one is
    a whole value found (a run of digits matching one's digits, "111-222-3333" or
    "1112223333").

    >>> safe_reason("Invalid value 'ann@example.com' for field em (#100)")
    'Invalid value (value not shown) for field em (#100)'
    >>> safe_reason("Meta error 100/2804003: call +1 (555) 010-9999 from 10.1.2.3")
    'Meta error 100/2804003: call (value not shown) from (value not shown)'
    >>> safe_reason("dataset 1234567890 or 5550109999", keep=["1234567890"])
    'dataset 1234567890 or (value not shown)'
    """
    if not text:
        return text
    kept = frozenset(k for value in keep for k in (value, _digits(value)) if k)
    text = _mask(redact(text), kept)
    return text if len(text) <= longest else text[:longest - 1].rstrip() + "…"


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


@functools.lru_cache(maxsize=1024)
def _mask(text: str, keep: frozenset[str]) -> str:
    """The values in ``text`` masked (cached: a run's reasons repeat), but ``keep``'s."""
    def masked(match: re.Match[str]) -> str:
        found = match.group(0)
        inner = found[1:-1] if found[0] in _QUOTES else found
        if inner in keep or (found[0] not in _QUOTES and _digits(found) in keep
                             and all(ch in "0123456789 ().-+" for ch in found)):
            return found
        return _masked(match)

    return _VALUES.sub(masked, text) if keep else _VALUES.sub(_masked, text)
