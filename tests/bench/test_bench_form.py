"""``connector.http.form_encode`` (the Meta destination's encoder) gives exactly what
``urllib.parse.urlencode`` gives."""

from __future__ import annotations

import random
from urllib.parse import urlencode

import pytest

from connector.http import form_encode as fast_urlencode
from connector.http import quote_plus

ALPHABET = 'ab Z09 %+&=é€"{}:,[]\\/\n\t~-_.*\'()!@#$?\u00a0\U0001f600'


@pytest.mark.parametrize("seed", range(20))
def test_same_as_urlencode(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        fields = {"".join(rng.choice(ALPHABET) for _ in range(rng.randrange(6))) or "k":
                  "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(40)))
                  for _ in range(rng.randrange(1, 4))}
        assert fast_urlencode(fields) == urlencode(fields)


def test_a_meta_body() -> None:
    data = '[{"event_name":"Purchase","user_data":{"em":"ab12"},"custom_data":' \
           '{"value":12.5,"contents":[{"id":"SKU 1","brand":"José & Co"}]}}]'
    fields = {"data": data, "access_token": "t0k+n/="}
    assert fast_urlencode(fields) == urlencode(fields)
    assert quote_plus("plain-text_1.0~") == "plain-text_1.0~"
