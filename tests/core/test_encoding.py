"""Payload encodings (``connector.run.encoding``): DuckDB's SQL and the Python twin give
the same bytes, and joined encoded payloads are exactly the encoded JSON array."""

from __future__ import annotations

import json
import random
from urllib.parse import parse_qs, quote, urlencode

import duckdb
import pytest

from connector import Batch, Destination, RunContext, Settings
from connector.kit.errors import ConfigError
from connector.run import encoding

from ..conftest import NOW  # noqa: TID252 - shared test data

ALPHABET = ('ab Z09 %+&=é€"{}:,[]\\/\n\t\r\x00\x7f~-_.*\'()!@#$?;\u00a0\u2028'
            '\U0001f600')


def random_texts(seed: int, n: int = 300) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randrange(60))) for _ in range(n)]


@pytest.mark.parametrize("name", sorted(encoding.ENCODINGS))
@pytest.mark.parametrize("seed", range(5))
def test_duckdb_and_python_encode_alike(name: str, seed: int) -> None:
    enc = encoding.get(name)
    texts = random_texts(seed)
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, p VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(texts)))
    sql = f"SELECT {enc.sql.format('p')} FROM t ORDER BY i"
    assert [r[0] for r in con.execute(sql).fetchall()] == [enc.python(t) for t in texts]


def test_url_is_percent_encoding_of_every_byte_but_the_unreserved() -> None:
    enc = encoding.get("url")
    texts = random_texts(7)
    assert [enc.python(t) for t in texts] == [quote(t, safe="") for t in texts]
    assert enc.python('{"a":"b c~_.-"}') == "%7B%22a%22%3A%22b%20c~_.-%22%7D"


@pytest.mark.parametrize("seed", range(3))
def test_an_encoded_array_decodes_to_the_json_array(seed: int) -> None:
    events = [json.dumps({"id": t}, ensure_ascii=False) for t in random_texts(seed, 40)]
    url = encoding.get("url")
    body = "data=" + Batch(None, ["k"] * 40, [url.python(e) for e in events], "url").array()
    assert body == urlencode({"data": "[" + ",".join(events) + "]"}, quote_via=quote)
    assert json.loads(parse_qs(body)["data"][0]) == [json.loads(e) for e in events]
    assert Batch(None, ["k"] * 40, events).array() == "[" + ",".join(events) + "]"


def test_a_batch_keeps_its_encoding_when_split() -> None:
    batch = Batch("r", ["a", "b", "c"], ["%7B%7D"] * 3, "url")
    left, right = batch.split()
    assert (left.encoding, right.encoding) == ("url", "url")
    assert left.array() == "%5B%7B%7D%5D" and len(right) == 2
    with pytest.raises(ValueError, match="use array"):
        batch.json_array()


def test_an_unknown_encoding_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown payload_encoding 'xml': use one of json, url"):
        encoding.get("xml")


def test_the_default_body_is_the_array_in_the_destination_encoding() -> None:
    dest = Destination(Settings(), RunContext("job", NOW))
    assert dest.encode(Batch(None, ["a", "b"], ['{"a":1}', '{"b":2}'])) == b'[{"a":1},{"b":2}]'
    assert dest.encode(Batch(None, ["a"], ["%7B%7D"], "url")) == b"%5B%7B%7D%5D"
