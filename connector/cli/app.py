"""The ``offramp`` group: the project it works on, and errors turned into one clear line
and an exit code (0 success, 1 a clear error, 2 usage, 3 a bug, 130 interrupted)."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from connector import registry
from connector.cli.output import err
from connector.kit.errors import OfframpError, ValidationError
from connector.kit.secrets import RedactingFilter, redact
from connector.project import Project
from connector.run.pipeline import Interrupted


class Context:
    def __init__(self, project: str | None, verbose: bool):
        self._project = project
        self.verbose = verbose

    @property
    def project(self) -> Project:
        # --project names the project folder; without it, search up from the cwd.
        return Project(Path(self._project)) if self._project else Project.find()


pass_ctx = click.make_pass_decorator(Context)


class OfframpGroup(click.Group):
    """Turns offramp's errors into one clear line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Interrupted as exc:
            err.print(f"[yellow]interrupted:[/] {escape(redact(str(exc)))}")
            sys.exit(130)
        except ValidationError as exc:
            err.print("[red]invalid:[/]\n" + escape(redact(str(exc))))
            sys.exit(1)
        except OfframpError as exc:
            err.print(f"[red]error:[/] {escape(redact(str(exc)))}")
            sys.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            err.print("[yellow]interrupted[/]")
            sys.exit(130)
        except Exception as exc:  # a bug: say so plainly, without leaking secrets
            verbose = ctx.obj.verbose if isinstance(ctx.obj, Context) else False
            if verbose:
                err.print(redact(traceback.format_exc()), markup=False)
            err.print(f"[red]internal error:[/] {type(exc).__name__}: {escape(redact(str(exc)))} "
                      "(run with --verbose for details, and please report it)")
            sys.exit(3)


@click.group(cls=OfframpGroup)
@click.option("--project", "project", type=click.Path(file_okay=False), default=None,
              help="Project folder (default: nearest folder with offramp.toml or queries/).")
@click.option("-v", "--verbose", is_flag=True, help="Show more detail on errors.")
@click.version_option(package_name="offramp")
@click.pass_context
def cli(ctx: click.Context, project: str | None, verbose: bool) -> None:
    """offramp: send warehouse rows to ad platforms as offline conversions."""
    ctx.obj = Context(project, verbose)



def main() -> None:
    """Entry point of the ``offramp`` script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    for hook_error in register_plugin_commands():
        err.print(f"[yellow]warning:[/] {escape(hook_error)}")
    cli(prog_name="offramp")


def register_plugin_commands() -> list[str]:
    """Let each plugin add its commands (``register_commands``), one plugin at a time:
    one whose hook fails is reported, and the others' commands are added."""
    return [f"plugin {name!r} failed to add its commands: {type(exc).__name__}: {exc}"
            for name, exc in registry.call_each("register_commands", cli=cli)
            if exc is not None]
