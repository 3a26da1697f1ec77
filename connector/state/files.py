"""Opening a job's state file outside a run: to read it (``offramp runs``, the Python
API) or to write a plugin's tables (``offramp report microsoft``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connector.engines.state_file import state_damage
from connector.engines.warehouse import Error as EngineError
from connector.engines.warehouse import connect_state
from connector.state.store import State


@contextmanager
def open_state(path: Path, *, write: bool = False) -> Iterator[State]:
    """The state at ``path`` for the block, on a connection of its own: read-only (the
    file must exist), or read-write with ``write`` (created when missing). A run holding
    the file makes it a clear :class:`~connector.kit.errors.ConfigError`, and so does a
    damaged file, whether DuckDB finds the damage opening it or reading a block."""
    con = connect_state(path, write=write)
    try:
        state = State(con, create=write)
        yield state
    except EngineError as exc:
        damaged = state_damage(path, exc)
        if damaged is None:
            raise
        raise damaged from None
    finally:
        con.close()
