"""Which outcome files of a Spark run are merged into the ledger.

At the start of a run the job's settled ledger is exported from the state file to
Parquet (:meth:`connector.state.State.export_settled`), so Spark can LEFT JOIN the
shaped events against it. At the end, the outcome files of the task attempts that
count (:func:`committed`) are merged into the state file in one transaction
(:meth:`connector.state.State.merge_outcome_files`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

_NAME = re.compile(r"^part-(\d+)-attempt-(\d+)\.parquet$")


def committed(folder: Path, succeeded: Iterable[tuple[int, int]] | None = None) -> list[Path]:
    """The outcome files to merge: of each partition, the attempt Spark reported as
    succeeded (``succeeded``: (partition, attempt) pairs); without that report (the
    job failed), one committed attempt per partition: the lowest, all being complete.
    Temporary files of attempts that did not finish are never merged."""
    files: dict[tuple[int, int], Path] = {}
    for path in sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []:
        m = _NAME.match(path.name)
        if m:
            files[(int(m[1]), int(m[2]))] = path
    if succeeded is not None:
        wanted = set(succeeded)
        missing = sorted(wanted - set(files))
        if missing:
            raise FileNotFoundError(f"outcome files of task attempts {missing} are missing "
                                    f"from {folder}")
        return [files[k] for k in sorted(wanted)]
    chosen: dict[int, Path] = {}
    for (partition, _attempt), path in sorted(files.items()):
        chosen.setdefault(partition, path)
    return [chosen[p] for p in sorted(chosen)]
