"""``offramp plugins``, ``destinations``, ``sources``, ``emulate`` and ``pull``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click
import pydantic
from rich.markup import escape

from connector import registry
from connector.cli.app import Context, cli
from connector.cli.output import FORMAT, err, listing, out, parse_date
from connector.kit.emulator import Connection
from connector.kit.errors import ConfigError, ValidationError
from connector.validation.settings import settings_problems


@cli.command("plugins")
@FORMAT
def list_plugins(fmt: str) -> None:
    """Installed plugins: package, version, hooks, and the ones that failed to load."""
    data: list[dict[str, Any]] = [
        {"name": p.name, "package": p.distribution, "version": p.version, "hooks": p.hooks}
        for p in registry.plugins()]
    failed = [{"name": name, "error": error}
              for name, error in sorted(registry.load_errors.items())]
    if fmt == "json":
        listing(data + failed, fmt)
        return
    # one shape for every row of a table or CSV
    rows = [{**row, "hooks": ", ".join(row["hooks"]), "error": None} for row in data]
    rows += [{"name": f["name"], "package": None, "version": None, "hooks": "",
              "error": f["error"]} for f in failed]
    listing(rows, fmt, empty="no plugins are loaded")


def _registered(kind: str, found: Mapping[str, tuple[Any, str]], fmt: str) -> None:
    records = [{kind: name, "plugin": where, "emulator": bool(cls.emulator),
                "summary": cls.summary} for name, (cls, where) in found.items()]
    listing(records, fmt, empty=f"no {kind}s are installed")


@cli.command()
@FORMAT
def destinations(fmt: str) -> None:
    """Installed destinations and the plugin each comes from."""
    _registered("destination", registry.destinations(), fmt)


@cli.command()
@FORMAT
def sources(fmt: str) -> None:
    """Installed sources and the plugin each comes from."""
    _registered("source", registry.sources(), fmt)


@cli.command()
@click.argument("name")
@click.option("--port", default=0, show_default=True, help="Port on 127.0.0.1 (0: any free one).")
def emulate(name: str, port: int) -> None:
    """Serve a plugin's local API emulator on 127.0.0.1 until interrupted."""
    cls = registry.emulator(name)
    if cls is None:
        raise ConfigError(f"{name} ships no emulator")
    emulator = cls(port=port)
    emulator.start()
    err.print(f"{name} emulator listening on {emulator.url}", markup=False)
    for line in connection_lines(emulator.connection()):
        err.print(line, markup=False, highlight=False)
    err.print(f"faults: POST {emulator.url}/__emulator__/faults; what it received: GET "
              f"{emulator.url}/__emulator__/state; stop it with Ctrl-C", markup=False)
    click.echo(emulator.url, err=False)  # the URL alone on standard output, for scripts
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass


class _PullGroup(click.Group):
    """``offramp pull NAME``: one sub-command per installed source, built on demand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(registry.sources())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        found = registry.sources()
        if name not in found:
            return None
        source_cls = found[name][0]

        @click.pass_obj
        def pull_one(c: Context, date_from: str, date_to: str, **options: object) -> None:
            from connector.kit import http
            from connector.kit.warehouse import SourceWriter, WarehouseWriter

            start, stop = parse_date(date_from), parse_date(date_to)
            if stop < start:
                raise click.BadParameter("--to is before --from")
            project = c.project
            try:
                settings = source_cls.Settings.model_validate(project.source_settings(name))
            except pydantic.ValidationError as exc:
                raise ValidationError(settings_problems(
                    exc, source_cls.Settings, f"the {name} source",
                    f"[sources.{name}] of offramp.toml")) from None
            source = source_cls(settings, http.session())
            with WarehouseWriter(project.warehouse) as raw:
                writer = SourceWriter(name, source.tables(), raw)
                summary = source.pull(writer=writer, start=start, stop=stop, options=options)
            for table, n in summary.rows.items():
                out.print(f"[green]{table}[/]: {n:,} rows written")
            out.print(f"{summary.windows} windows replaced")
            for where, reason in summary.rejected[:20]:
                out.print(f"[red]rejected[/] {escape(where)}: {escape(reason)}")
            for note in summary.notes:
                out.print(escape(note))

        params = [click.Option(["--from", "date_from"], required=True, help="First day."),
                  click.Option(["--to", "date_to"], required=True, help="Last day (inclusive)."),
                  *source_cls.cli_options()]
        return click.Command(name, callback=pull_one, params=params,
                             help=source_cls.summary or f"Pull from {name}.")


cli.add_command(_PullGroup("pull", help="Pull data from a source into the warehouse."))


def connection_lines(connection: Connection) -> list[str]:
    """The lines to paste that point a job at an emulator (``offramp emulate``)."""
    lines = []
    if connection.env:
        lines.append("point a job at it: in your shell,")
        lines += [f"  export {name}={value}" for name, value in connection.env.items()]
    if connection.settings:
        lines.append(f"and in {connection.place}:" if connection.env else
                     f"point a job at it: in {connection.place},")
        lines += [f"  {name} = {json.dumps(value)}"
                  for name, value in connection.settings.items()]
    return lines
