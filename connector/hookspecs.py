"""The contract between offramp and its plugins.

This module is the one documented contract for plugin authors. It holds the hook
markers and the hook specifications, and nothing else.

A plugin is a module registered under the ``offramp`` entry-point group::

    [project.entry-points.offramp]
    webhook_signed = "offramp_webhook_signed"

and implements any of the hooks below with :data:`hookimpl`::

    from connector import hookimpl

    @hookimpl
    def register_destinations(register):
        register(SignedWebhook)

Rules every hook follows:

* Hooks are synchronous. offramp calls them with keyword arguments only.
* A hook implementation may accept a subset of the arguments listed here
  (pluggy's opt-in arguments), and must not give its parameters defaults:
  pluggy does not pass arguments to parameters that have defaults.
* Hooks evolve by gaining arguments, never by changing existing ones.
* Plugins are loaded lazily, one at a time; a plugin that fails to import is
  reported by ``offramp plugins`` and does not break other commands.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from connector.kit.demos import Demo
    from connector.kit.destination import Destination
    from connector.kit.source import Source

#: The project name: the entry-point group, the marker name and the CLI name.
NAME = "offramp"

hookspec = pluggy.HookspecMarker(NAME)
hookimpl = pluggy.HookimplMarker(NAME)


@hookspec
def register_destinations(register: Callable[[type[Destination]], None]) -> None:
    """Register destination classes.

    Called once, the first time offramp needs the list of destinations (a job is
    validated, previewed or run; ``offramp destinations`` is listed).

    :param register: call ``register(MyDestination)`` once per class. The class
        must subclass :class:`connector.Destination` and set a unique ``name``;
        a name registered twice is an error naming both plugins.
    :return: nothing.
    """


@hookspec
def register_sources(register: Callable[[type[Source]], None]) -> None:
    """Register source classes: connectors that pull external data into the warehouse.

    Called once, the first time offramp needs the list of sources (``offramp pull``,
    ``offramp sources``).

    :param register: call ``register(MySource)`` once per class. The class must
        subclass :class:`connector.Source` and set a unique ``name``.
    :return: nothing.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``offramp`` command line.

    Called once when the CLI starts, before arguments are parsed.

    :param cli: the top-level :class:`click.Group`; call ``cli.add_command(...)``
        or decorate functions with ``@cli.command()``.
    :return: nothing.
    """


@hookspec
def register_demos(register: Callable[[Demo], None]) -> None:
    """Register demos for ``offramp demo --destination NAME``.

    Called once, when ``offramp demo`` needs the list. A demo is a
    :class:`connector.kit.demos.Demo`: a job over the demo warehouse and an emulator.

    :param register: call ``register(Demo(...))`` once per demo; its ``name`` (the
        destination's) must be unique.
    :return: nothing.
    """
