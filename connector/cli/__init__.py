"""The ``offramp`` command line: :func:`main` is the script's entry point.

Each module adds its commands to the group :data:`connector.cli.app.cli` when imported.
"""

from connector.cli import jobs, plugins, scaffold, state  # noqa: F401  (they register commands)
from connector.cli.app import cli, main

__all__ = ["cli", "main"]
