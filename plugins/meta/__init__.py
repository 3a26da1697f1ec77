"""Built-in plugin: the Meta offline-events destination, its emulator, and ``offramp demo``."""

from __future__ import annotations

from connector.kit import hookimpl
from plugins.meta.destination import MetaDestination


@hookimpl
def register_destinations(register):
    register(MetaDestination)


@hookimpl
def register_commands(cli):
    from plugins.meta.demo import demo

    cli.add_command(demo)


@hookimpl
def register_demos(register):
    from plugins.meta.demo import DEMO

    register(DEMO)
