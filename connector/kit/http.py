"""HTTP helpers for plugins, on top of requests.

:func:`session` makes the shared ``requests.Session`` (pooled connections sized
for the destination's concurrency); :func:`send` turns connection errors and
timeouts into :class:`connector.kit.errors.Retryable`; :func:`retry_after` reads the
``Retry-After`` header in either of its forms; :func:`form_data` writes form fields
as a ``multipart/form-data`` body.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.fields import RequestField
from urllib3.filepost import choose_boundary

from connector.kit.errors import Retryable

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


def form_data(fields: Mapping[str, str | bytes],
              boundary: str | None = None) -> tuple[bytes, str]:
    """``fields`` as a ``multipart/form-data`` body, and its ``Content-Type`` header.

    The values go into the body as they are (text as UTF-8), where ``application/x-www-
    form-urlencoded`` would percent-encode them: a JSON array is written once, and about
    a quarter smaller. The boundary is random (urllib3's) and checked against every
    value, so no value can end its part early, whatever text it holds. Each part's
    headers are urllib3's (its ``RequestField``, which quotes the name as browsers do);
    the body is the same bytes as urllib3's ``encode_multipart_formdata``, joined in one
    copy: a value given as bytes (:meth:`~connector.kit.Batch.array_bytes`) is neither
    decoded nor encoded again.
    """
    values = {name: value.encode() if isinstance(value, str) else value
              for name, value in fields.items()}
    while boundary is None or any(boundary.encode() in value for value in values.values()):
        boundary = choose_boundary()
    marker = f"--{boundary}".encode()
    parts: list[bytes] = []
    for name, value in values.items():
        field = RequestField(name, value)
        field.make_multipart()
        parts += [marker, b"\r\n", field.render_headers().encode(), value, b"\r\n"]
    parts += [marker, b"--\r\n"]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


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
