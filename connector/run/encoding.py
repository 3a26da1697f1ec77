"""How event payloads are written into request bodies.

A destination names one in :attr:`~connector.kit.destination.Destination.payload_encoding`.
The DuckDB pipeline encodes each payload in its query, with the shaping (in C++, on
every core), so the Python side only joins the pieces into bodies; the Spark path
encodes in Python with the twin function, which gives the same bytes (tested).

* ``json``: the JSON text as it is; a request holds ``[p1,p2,...]``.
* ``url``: percent-encoded for a urlencoded form field: every byte but
  ``A-Z a-z 0-9 - _ . ~`` becomes ``%XX`` (a space is ``%20``, which form decoders
  read as they read ``+``); a request holds ``%5Bp1%2Cp2%2C...%5D``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from urllib.parse import quote

from connector.kit.errors import ConfigError


@dataclass(frozen=True)
class PayloadEncoding:
    """One way of writing payloads into a body.

    :param sql: a DuckDB expression over the payload, written ``{}``.
    :param python: the same in Python, for engines without the SQL function.
    :param open, separator, close: how encoded payloads make up a JSON array.
    """

    name: str
    sql: str
    python: Callable[[str], str]
    open: str
    separator: str
    close: str

    def array(self, payloads: Sequence[str]) -> str:
        """The encoded payloads as one encoded JSON array."""
        return self.open + self.separator.join(payloads) + self.close


ENCODINGS = {
    "json": PayloadEncoding("json", "{}", str, "[", ",", "]"),
    "url": PayloadEncoding("url", "url_encode({})", partial(quote, safe=""), "%5B", "%2C", "%5D"),
}


def get(name: str) -> PayloadEncoding:
    """The encoding called ``name``; a plugin naming another one is a clear error."""
    try:
        return ENCODINGS[name]
    except KeyError:
        raise ConfigError(f"unknown payload_encoding {name!r}: use one of "
                          f"{', '.join(sorted(ENCODINGS))}") from None
