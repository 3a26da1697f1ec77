"""Setting environment variables for a while (the demo, notebooks, the test kit)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def temporary(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block, then restore what was there.

    >>> import os
    >>> with temporary({"OFFRAMP_DOC_VAR": "1"}):
    ...     os.environ["OFFRAMP_DOC_VAR"]
    '1'
    >>> "OFFRAMP_DOC_VAR" in os.environ
    False
    """
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
