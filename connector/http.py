"""HTTP helpers for plugins, on top of requests.

:func:`session` makes the shared ``requests.Session`` (pooled connections sized
for the destination's concurrency); :func:`send` turns connection errors and
timeouts into :class:`connector.errors.Retryable`; :func:`retry_after` reads the
``Retry-After`` header in either of its forms.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from connector.errors import Retryable

USER_AGENT = "offramp/0.1 (+https://github.com/offramp)"


def session(pool_size: int = 16) -> requests.Session:
    """A session with a connection pool of ``pool_size`` and offramp's user agent."""
    s = requests.Session()
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    return s


def retry_after(response: requests.Response) -> float | None:
    """Seconds to wait according to ``Retry-After`` (delta-seconds or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):  # neither seconds nor a date: ignore it
            return None
        if parsed.tzinfo is None:  # RFC 9110 dates are GMT
            parsed = parsed.replace(tzinfo=dt.UTC)
        return max(0.0, parsed.timestamp() - time.time())


def send(http: requests.Session, method: str, url: str, *, timeout: float,
         **kwargs: Any) -> requests.Response:
    """Send a request; connection failures and timeouts become :class:`Retryable`.

    The message names the host only: URLs may carry tokens in their query string.
    """
    try:
        return http.request(method, url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise Retryable(f"no answer from {_host(url)} within {timeout:g}s") from None
    except requests.ConnectionError as exc:
        raise Retryable(f"could not reach {_host(url)}: {type(exc).__name__}") from None


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.netloc or url


#: Bytes ``quote_plus`` leaves as they are.
SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~"
_CODES = {b: b"%%%02X" % b for b in range(256)}


def quote_plus(value: str) -> str:
    """``urllib.parse.quote_plus(value)`` for a ``str``."""
    data = value.encode("utf-8")
    unsafe = set(data.translate(None, SAFE))
    if not unsafe:
        return value
    if 0x25 in unsafe:  # '%' first: later passes write '%'s of their own
        data = data.replace(b"%", b"%25")
        unsafe.discard(0x25)
    space = 0x20 in unsafe
    unsafe.discard(0x20)
    for byte in unsafe:  # '+' included: it becomes %2B before spaces become '+'
        data = data.replace(bytes((byte,)), _CODES[byte])
    if space:
        data = data.replace(b" ", b"+")
    return data.decode("ascii")


def form_encode(fields: Mapping[str, str]) -> str:
    """``urllib.parse.urlencode(fields)`` for ``str`` fields, several times faster on
    large values (a Meta request's ``data`` is about 1.5 MB of JSON): each unsafe byte
    present is replaced in one C-level ``bytes.replace`` pass, instead of quoting byte
    by byte in Python. The result is the same string (tested against ``urlencode``).

    >>> form_encode({"data": '[{"a": "b c"}]', "x": "1"})
    'data=%5B%7B%22a%22%3A+%22b+c%22%7D%5D&x=1'
    """
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in fields.items())
