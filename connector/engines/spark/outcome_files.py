"""The outcome files of Spark task attempts: written as answers arrive, readable after any end.

Each delivery task attempt writes what became of its events to a file of its own, named for
its partition and Spark's task attempt id (``TaskContext.taskAttemptId()``, unique within the
application; ``attemptNumber()`` starts again at 0 when Spark re-runs a stage, so two attempts
of one partition could share it):

* ``.part-00003-task-41.arrow.tmp`` while the attempt runs;
* ``part-00003-task-41.arrow`` once it has stopped, however it stopped (finished, failed, or
  told that Spark gave up on it). The name says the file will not grow: it does not say the
  attempt succeeded. Which attempts succeeded, only the rows ``mapInArrow`` returned to the
  driver say (:mod:`connector.engines.spark.ledger`).

The format is an Arrow IPC stream and every write is flushed to the operating system, so the
file of a process killed with SIGKILL is readable up to its last complete write: the outcome
of each request is written by the thread that got the answer, as soon as it has it. While it
writes, the attempt holds an exclusive ``flock`` on its file; a temporary file whose lock can be
taken belongs to a process that is gone, and will not grow either.

Every row of such a file is true: an event is listed as delivered or rejected only once the API
said so. Merging several attempts' files of one partition is therefore safe: the ledger is
append-only and an event's latest row is its state.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from connector.state.outcomes import OUTCOMES

#: The outcomes the API confirmed: a later attempt of the same partition never resends them.
CONFIRMED = ("delivered", "rejected")
_NAME = re.compile(r"^\.?part-(\d+)-task-(\d+)\.arrow(\.tmp)?$")


def final_name(partition: int, task_id: int) -> str:
    return f"part-{partition:05d}-task-{task_id}.arrow"


def parse(name: str) -> tuple[int, int, bool] | None:
    """(partition, task attempt id, temporary) of an outcome file's name, else None."""
    m = _NAME.match(name)
    return (int(m[1]), int(m[2]), bool(m[3])) if m else None


class OutcomeWriter:
    """One task attempt's outcome file. ``write`` may be called from several threads.

    The folder must exist: it is the driver's, made before the job starts and removed once
    merged, and a task that finds it gone belongs to a run that is over.
    """

    def __init__(self, folder: Path, partition: int, task_id: int):
        self.final = folder / final_name(partition, task_id)
        self.tmp = folder / f".{self.final.name}.tmp"
        self.rows = 0
        self._lock = threading.Lock()
        self._file = open(self.tmp, "xb")  # noqa: SIM115 - held until commit
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._stream = pa.ipc.new_stream(self._file, OUTCOMES)
        except BaseException:
            self._file.close()
            raise
        self._file.flush()

    def write(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        with self._lock:
            self._stream.write_table(table.cast(OUTCOMES))
            self._file.flush()  # to the OS: a killed process's rows stay readable
            self.rows += table.num_rows

    def commit(self) -> str:
        """End the stream and give the file its final name (the lock goes with the close)."""
        with self._lock:
            try:
                self._stream.close()
                self._file.flush()
                os.replace(self.tmp, self.final)
            finally:
                self._file.close()
        return self.final.name


def read(path: Path) -> pa.Table:
    """The readable rows of an outcome file: all of them, or those written before its
    writer was killed (a truncated last write is left out)."""
    batches: list[pa.RecordBatch] = []
    try:
        with open(path, "rb") as f:
            reader = pa.ipc.open_stream(f)
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
    except (pa.ArrowInvalid, OSError, EOFError):
        pass  # empty, truncated mid-message, or gone: keep what was read
    return pa.Table.from_batches(batches, schema=OUTCOMES)


def writer_gone(path: Path) -> bool:
    """Whether the process writing the temporary file ``path`` is gone (its lock is free).
    False when the file no longer exists: it was committed under its final name."""
    try:
        with open(path, "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True
    except FileNotFoundError:
        return False


def files(folder: Path) -> list[Path]:
    """Every outcome file in ``folder``, committed or temporary, in name order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if parse(p.name))


def confirmed(folder: Path, partition: int, task_id: int) -> pa.Array:
    """``event_key + NUL + fingerprint`` of each event whose outcome another attempt of
    ``partition`` has had confirmed by the API: a retry skips them."""
    seen: list[pa.Array] = []
    for path in files(folder):
        p, t, _tmp = parse(path.name)  # type: ignore[misc]
        if p != partition or t == task_id:
            continue
        table = read(path)
        table = table.filter(pc.is_in(table.column("status"), pa.array(CONFIRMED)))
        if table.num_rows:
            seen.append(identity(table.column("event_key"), table.column("fingerprint")))
    if not seen:
        return pa.array([], pa.string())
    return pc.unique(pa.chunked_array(seen).combine_chunks())


def identity(keys: pa.Array | pa.ChunkedArray,
             fingerprints: pa.Array | pa.ChunkedArray) -> pa.Array:
    """An event's key and payload fingerprint as one string, to compare sets of them."""
    joined = pc.binary_join_element_wise(pc.fill_null(keys, ""), pc.fill_null(fingerprints, ""),
                                         "\x00")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined
