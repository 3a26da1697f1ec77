"""Types for settings that every plugin shares, so that a value the run could not use is
refused when the job is validated, with the setting's name and the fix:

* :data:`BaseUrl`: an address requests can send to: ``http://`` or ``https://`` and a host
  (``file://`` or ``ftp://`` would validate as text and fail the run);
* :data:`Seconds`: a duration, finite and above zero, at most a day (``inf`` or ``1e300``
  would validate as a float and fail the run when a socket gets it as a timeout).

>>> import pydantic
>>> class Example(pydantic.BaseModel):
...     base_url: BaseUrl = "https://api.example.com"
...     timeout: Seconds = 30.0
>>> Example(base_url="http://127.0.0.1:8765/v1", timeout=5).timeout
5.0
>>> try:
...     Example(base_url="file:///etc/passwd")
... except pydantic.ValidationError as exc:
...     print(exc.errors()[0]["msg"].split("; ")[-1])
file:// is not one
"""

from __future__ import annotations

import math
from typing import Annotated
from urllib.parse import urlsplit

import pydantic

#: The longest duration :data:`Seconds` accepts: a day.
MAX_SECONDS = 86_400.0


def _base_url(value: str, info: pydantic.ValidationInfo) -> str:
    name = info.field_name or "the address"
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port
    except ValueError:
        host = None
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in value):
        found = f"{parts.scheme}:// is not one" if parts.scheme and parts.scheme not in (
            "http", "https") else "this one has no host, or a space" if parts.scheme \
            else "this one has no scheme"
        raise ValueError(f"{name} must be an http:// or https:// address with a host, such as "
                         f"https://api.example.com; {found}")
    return value


def _seconds(value: float, info: pydantic.ValidationInfo) -> float:
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        name = info.field_name or "the duration"
        raise ValueError(f"{name} is seconds: a finite number above 0 and at most "
                         f"{MAX_SECONDS:,.0f} (a day), such as {name} = 30")
    return value


#: An ``http://`` or ``https://`` address with a host (the value is kept as written).
BaseUrl = Annotated[str, pydantic.AfterValidator(_base_url)]
#: A duration in seconds: finite, above 0, at most :data:`MAX_SECONDS`.
Seconds = Annotated[float, pydantic.AfterValidator(_seconds)]
