"""Built-in plugin: Google Ads offline conversions through the Data Manager API, its
local emulator (:mod:`plugins.google.emulator`), ``offramp report google`` and the
Google demo. See docs/google.md."""

from __future__ import annotations

from connector.kit import hookimpl


@hookimpl
def register_destinations(register):
    from plugins.google.destination import GoogleDestination

    register(GoogleDestination)


@hookimpl
def register_commands(cli):
    from plugins.google.cli import add_commands

    add_commands(cli)


@hookimpl
def register_demos(register):
    from plugins.google.demo import DEMO

    register(DEMO)
