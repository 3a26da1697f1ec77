"""What a plugin's command-line commands use (the ``register_commands`` hook).

A plugin's command finds the project the user named (``offramp --project DIR``) with
:func:`project`, works on it through the Python API's
:class:`~connector.api.ProjectHandle` (jobs, settings, runs, the plugin's tables),
prints with :func:`echo`, and runs a job as ``offramp run`` does with :func:`run_job`;
:func:`demos` lists the demos plugins register for ``offramp demo``.
Errors it raises as :class:`~connector.kit.errors.OfframpError` are shown as one line,
exit code 1, like offramp's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from connector.api import ProjectHandle
    from connector.kit.demos import Demo
    from connector.kit.runs import RunSummary


def project(ctx: click.Context | None = None) -> ProjectHandle:
    """The project the command works on: the one ``offramp --project DIR`` names, else
    the nearest folder at or above the current one holding ``offramp.toml`` or
    ``queries/``."""
    from connector.api import ProjectHandle
    from connector.cli.app import Context

    ctx = ctx or click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, Context):
        return ProjectHandle(obj.project)
    from connector.api import open_project

    return open_project()


def echo(text: str, *, err: bool = False) -> None:
    """Print a line (rich markup such as ``[bold]...[/]`` allowed) to standard output,
    or to standard error with ``err``."""
    from connector.cli.output import err as stderr
    from connector.cli.output import out

    (stderr if err else out).print(text)


def run_job(project: ProjectHandle, job: str, *, quiet: bool = False,
            summary: bool = True) -> RunSummary:
    """Run a job as ``offramp run`` does: a progress line on standard error (unless
    ``quiet``), then the summary (unless not ``summary``). Returns the run's summary;
    raises what the run raised."""
    from connector.cli.output import print_summary, run_with_progress

    result = run_with_progress(project.project, job, quiet=quiet)
    if summary:
        print_summary(result)
    return result


def demos() -> dict[str, Demo]:
    """The demos plugins register (``register_demos``), by destination name."""
    from connector import registry

    return {name: demo for name, (demo, _) in registry.demos().items()}
