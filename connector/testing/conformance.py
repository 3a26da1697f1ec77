"""The conformance suite every destination must pass: :func:`check_destination` runs
the named checks of :data:`CHECKS` (:mod:`connector.testing.checks`) in order;
:func:`run_check` runs one of them."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from connector.kit.destination import Destination
from connector.kit.emulator import Emulator
from connector.kit.environ import temporary
from connector.testing.check_context import Check, Context
from connector.testing.checks import CHECKS
from connector.testing.projects import registered

__all__ = ["CHECKS", "Check", "Context", "check_destination", "run_check"]


def check_destination(destination: type[Destination], *, settings: dict[str, Any],
                      rows: list[dict[str, Any]], emulator: Emulator | None,
                      env: dict[str, str] | None = None,
                      bad_rows: list[dict[str, Any]] | None = None,
                      bad_settings: dict[str, Any] | None = None,
                      workdir: Path | None = None, only: Iterable[str] | None = None,
                      skip: Iterable[str] = ()) -> dict[str, str]:
    """Check that a destination behaves as offramp needs: run the checks of
    :data:`CHECKS` in order. Raises AssertionError naming the failed check and what to
    fix; returns check name -> what was seen, for each check that applied.

    :param settings: valid settings pointing at ``emulator`` (its ``url``).
    :param rows: query rows that make at least one valid event. Customer information
        in them (columns such as ``email`` or ``phone``) must never be sent raw.
    :param emulator: a started emulator (or :class:`RecordingSink`) of the API; None for a
        destination that makes no HTTP calls (the checks that need one do not apply).
    :param env: environment variables the settings name (secrets); their values must
        never appear in any message, log or state file.
    :param bad_rows: rows that must be rejected before or by the API, each with a reason.
    :param bad_settings: settings that must be refused with a clear message.
    :param workdir: where the checks make their projects (default: a new temporary folder).
    :param only: run only these checks (by name), in the suite's order.
    :param skip: run every check but these.
    """
    chosen = _chosen(only, skip)
    base = Path(workdir or tempfile.mkdtemp(prefix=f"offramp-conformance-{destination.name}-"))
    ctx = Context(destination, settings, rows, emulator, base, env=dict(env or {}),
                  bad_rows=list(bad_rows or []), bad_settings=bad_settings)
    seen: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        ready = False  # "declared" runs first, before the class is registered
        for check in chosen:
            if check.name != "declared" and not ready:
                ready = True
                stack.enter_context(_installed(destination))
                stack.enter_context(temporary(ctx.env))
                stack.enter_context(_logged(ctx))
            try:
                result = check(ctx)
            finally:
                if emulator is not None:
                    emulator.clear_faults()
            if result is not None:
                seen[check.name] = result
    return seen


def run_check(name: str, destination: type[Destination], **arguments: Any) -> str | None:
    """Run the one check called ``name`` (the arguments are those of
    :func:`check_destination`); returns what it saw, None when it does not apply."""
    return check_destination(destination, only=[name], **arguments).get(name)


def _chosen(only: Iterable[str] | None, skip: Iterable[str]) -> list[Check]:
    names = [c.name for c in CHECKS]
    wanted, skipped = (None if only is None else list(only)), list(skip)
    unknown = [n for n in [*(wanted or []), *skipped] if n not in names]
    if unknown:
        raise ValueError(f"no conformance check named {', '.join(map(repr, unknown))} "
                         f"(the checks: {', '.join(names)})")
    return [c for c in CHECKS if (wanted is None or c.name in wanted) and c.name not in skipped]


@contextlib.contextmanager
def _installed(destination: type[Destination]) -> Iterator[None]:
    """``destination`` registered for the block, unless an installed plugin registers it."""
    from connector import registry
    from connector.hookspecs import hookimpl

    class _Plugin:
        @hookimpl
        def register_destinations(self, register: Any) -> None:
            register(destination)

    installed = registry.destinations().get(destination.name)
    if installed is not None and installed[0] is destination:
        yield
        return
    with registered(_Plugin(), f"conformance-{destination.name}"):
        yield


@contextlib.contextmanager
def _logged(ctx: Context) -> Iterator[None]:
    """Every log line of the block in ``ctx.log``."""
    root = logging.getLogger()
    root.addHandler(ctx.log)
    try:
        yield
    finally:
        root.removeHandler(ctx.log)
