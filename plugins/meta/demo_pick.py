"""Weighted choices drawn from an explicit ``random.Random`` (never the global RNG).

The demo generator makes hundreds of thousands of draws; :class:`Pick` precomputes the
cumulative weights once so each draw is one ``random()`` and one ``bisect``.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Pick(Generic[T]):
    """A weighted choice among ``(value, weight)`` pairs; weights need not sum to 1."""

    def __init__(self, weighted: Sequence[tuple[T, float]]):
        if not weighted or any(w < 0 for _, w in weighted):
            raise ValueError("a Pick needs at least one value and no negative weights")
        self.values = [value for value, _ in weighted]
        self.cumulative: list[float] = []
        total = 0.0
        for _, weight in weighted:
            total += weight
            self.cumulative.append(total)
        if total <= 0:
            raise ValueError("a Pick needs a positive total weight")
        self.total = total

    def __call__(self, rng: random.Random) -> T:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


def uniform(values: Sequence[T]) -> Pick[T]:
    """Every value equally likely."""
    return Pick([(value, 1.0) for value in values])


def chance(rng: random.Random, probability: float) -> bool:
    """True with the given probability."""
    return rng.random() < probability
