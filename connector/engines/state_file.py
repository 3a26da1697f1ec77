"""What can go wrong attaching a job's state file, and what offramp says then.

Another process may hold the file's lock (a reader for a moment, a run for as long as
it runs): a writer waits for it (:func:`attach_waiting`), and past the wait the user is
told the file is in use (:class:`StateInUse`). The file may be damaged (not a DuckDB
file, a block failing its checksum or cut short): the user is told how to move it aside
(:class:`StateDamaged`). :mod:`connector.engines.warehouse` attaches state files with
these; the state package maps errors from later statements with :func:`state_damage`.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import duckdb

from connector.kit.errors import ConfigError


class StateInUse(ConfigError):
    """The state file is held by another process (DuckDB's file lock)."""


class StateDamaged(ConfigError):
    """The state file is not a DuckDB file any more, or a block of it fails its checksum
    or cannot be read."""


#: DuckDB's words for a file lock held by another process.
_LOCKED = re.compile(r"Could not set lock on file|Conflicting lock", re.IGNORECASE)
#: DuckDB's words for a damaged file: not a DuckDB file, a block whose checksum does not
#: match, a block cut short, a structure that does not deserialize.
_DAMAGED = re.compile(r"Corrupt database file|not a valid DuckDB database file|checksum|"
                      r"Could not read enough bytes|Could not read from file|"
                      r"Serialization Error|Failed to deserialize", re.IGNORECASE)


def state_damage(path: Path, exc: BaseException) -> StateDamaged | None:
    """The error to raise when ``exc``, from a statement on the state file ``path``,
    says the file is damaged; None when it says something else."""
    text = str(exc).strip()
    if not isinstance(exc, duckdb.Error) or _LOCKED.search(text) or not _DAMAGED.search(text):
        return None
    detail = text.splitlines()[0] if text else type(exc).__name__
    return StateDamaged(
        f"the state file {path} is damaged ({detail}): move it aside, for example "
        f"mv {path} {path}.damaged, and run the job again. The next run starts from an "
        "empty ledger and resends every event under the same event ids, which the "
        "platforms deduplicate (Meta within 7 days)")


#: How long a writer waits for other processes to let go of a state file: a reader
#: (``offramp runs``, a notebook) holds it for a moment, a run for as long as it runs.
STATE_WAIT_SECONDS = 5.0


def attach_waiting(con: duckdb.DuckDBPyConnection, sql: str,
                   wait: float = STATE_WAIT_SECONDS) -> None:
    """Run the ATTACH ``sql`` of a state file to write it, retrying for up to ``wait``
    seconds (delays doubling from 50 ms to 500 ms) while another process holds its
    lock; any other error, or a lock held longer, is raised."""
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            con.execute(sql).fetchall()
            return
        except duckdb.Error as exc:
            if not _LOCKED.search(str(exc)) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def state_error(path: Path, exc: duckdb.Error) -> ConfigError:
    """What to tell the user when the state file ``path`` cannot be attached."""
    if _LOCKED.search(str(exc)):
        return StateInUse(f"the state file {path} is in use by another offramp command; try "
                          "again when it ends")
    return state_damage(path, exc) or ConfigError(
        f"could not open the state file {path}: {exc}. If it is damaged, move it away and "
        "run again: the job starts over with an empty ledger and sends every event again")
