"""What the conformance checks share (:class:`Context`) and what each one is
(:class:`Check`); the checks themselves are in :mod:`connector.testing.checks`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.kit.destination import Destination
from connector.kit.emulator import Emulator
from connector.testing.projects import make_project

if TYPE_CHECKING:
    from connector.api import ProjectHandle
    from connector.kit.runs import RunSummary

#: The table the checks' projects hold the rows in, and the job's query over it.
TABLE = "conformance_rows"
SQL = f"SELECT * FROM {TABLE}"


class LogCapture(logging.Handler):
    """Every log line written while the checks run (searched for secrets)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Context:
    """What a check is given: the destination under test, the arguments of
    :func:`~connector.testing.check_destination`, a folder for its projects, and the
    log lines written so far.

    Each check makes its own projects (:meth:`project`, in a subfolder named for it), so
    that it can run alone.
    """

    destination: type[Destination]
    settings: dict[str, Any]
    rows: list[dict[str, Any]]
    emulator: Emulator | None
    base: Path
    env: dict[str, str] = field(default_factory=dict)
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    bad_settings: dict[str, Any] | None = None
    log: LogCapture = field(default_factory=LogCapture)

    @property
    def secrets(self) -> list[str]:
        """The values of ``env`` long enough to search for."""
        return [v for v in self.env.values() if len(v) >= 4]

    def project(self, name: str, *, rows: list[dict[str, Any]] | None = None,
                settings: dict[str, Any] | None = None, sql: str = SQL) -> ProjectHandle:
        """A project in ``base/name`` whose job ``job`` sends ``rows`` (default: the good
        rows) to the destination with ``settings`` (default: the good ones)."""
        from connector.api import ProjectHandle

        project = make_project(self.base / name, tables={TABLE: self.rows if rows is None
                                                         else rows},
                               jobs={"job": (self.destination.name,
                                             self.settings if settings is None else settings,
                                             sql)})
        return ProjectHandle(project)

    def run(self, project: ProjectHandle, *, sleep: Callable[[float], None] | None = None,
            dry_run: bool = False) -> RunSummary:
        """Run the project's job; retries do not wait (unless ``sleep`` says otherwise)."""
        return project.run("job", dry_run=dry_run, sleep=sleep or (lambda seconds: None))

    def calls(self) -> int:
        """How many requests the emulator has received (0 without an emulator)."""
        return len(self.emulator.calls) if self.emulator is not None else 0


@dataclass(frozen=True)
class Check:
    """One conformance check: its ``name``, what it checks (``purpose``, one line), when
    it applies (``when``), and the function that runs it. The function returns what it
    saw, or None when it does not apply to this destination; it raises AssertionError,
    saying what to fix, when the destination fails it."""

    name: str
    purpose: str
    when: str
    run: Callable[[Context], str | None]

    def __call__(self, context: Context) -> str | None:
        try:
            return self.run(context)
        except AssertionError as exc:
            failed = AssertionError(f"conformance check {self.name!r} ({self.purpose}) "
                                    f"failed: {exc}")
            raise failed.with_traceback(exc.__traceback__) from None
