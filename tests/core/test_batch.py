"""A request's events (:class:`connector.kit.Batch`): its JSON array as text and as the
UTF-8 bytes a body holds, however the batch was made."""

from __future__ import annotations

import pyarrow as pa

from connector.kit import Batch, Destination

PAYLOADS = ['{"n":"Zoë"}', '{"n":2}']
ARRAY = '[{"n":"Zoë"},{"n":2}]'


def test_an_array_given_as_bytes_is_read_as_text_and_kept_as_bytes() -> None:
    body = ARRAY.encode()
    batch = Batch("r", ["a", "b"], pa.array(PAYLOADS), array=body)
    assert batch.array_bytes() is body  # no copy: what the core joined goes out
    assert batch.array() == ARRAY


def test_an_array_from_payloads_or_text_is_the_same_bytes() -> None:
    for batch in (Batch(None, ["a", "b"], PAYLOADS), Batch(None, ["a", "b"], PAYLOADS,
                                                            array=ARRAY)):
        assert batch.array() == ARRAY
        assert batch.array_bytes() == ARRAY.encode()
    left, right = Batch(None, ["a", "b"], PAYLOADS, array=ARRAY.encode()).split()
    assert (left.array_bytes(), right.array()) == (b'[{"n":"Zo\xc3\xab"}]', '[{"n":2}]')


def test_the_default_body_is_the_array_as_bytes() -> None:
    body = ARRAY.encode()
    assert Destination.encode(object.__new__(Destination), Batch(None, ["a", "b"], PAYLOADS,
                                                                   array=body)) is body
