"""The base class for source plugins: connectors that pull external data into the
warehouse, so that saved jobs can send it on (for example RQ Data Connect's
Marketing Report feeding the Meta destination)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic

from connector.kit.destination import Settings
from connector.kit.secrets import Secret, from_env

if TYPE_CHECKING:
    import click
    import requests

    from connector.engines.warehouse import WarehouseWriter
    from connector.kit.emulator import Emulator


@dataclass
class PullSummary:
    """What a pull did: rows written per table, windows replaced, rows rejected with reasons."""

    rows: dict[str, int] = field(default_factory=dict)
    windows: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    notes: list[str] = field(default_factory=list)


class Source:
    """Subclass this to add a source; ``offramp pull NAME --from D --to D`` runs it."""

    #: The name used on the command line (``offramp pull rq``); unique across plugins.
    name: ClassVar[str] = ""
    #: One line for ``offramp sources``.
    summary: ClassVar[str] = ""
    #: The settings model, read from the project's ``[sources.NAME]`` table.
    Settings: ClassVar[type[Settings]] = Settings
    #: A local emulator of the API, if the plugin ships one.
    emulator: ClassVar[type[Emulator] | None] = None

    def __init__(self, settings: pydantic.BaseModel, http: requests.Session):
        self.settings = settings
        self.http = http

    @classmethod
    def cli_options(cls) -> list[click.Parameter]:
        """Extra options for ``offramp pull NAME`` (their values reach :meth:`pull`)."""
        return []

    def pull(self, *, writer: WarehouseWriter, start: dt.date, stop: dt.date,
             options: dict[str, Any]) -> PullSummary:
        """Fetch ``start``..``stop`` (inclusive days) and write it with ``writer``.

        Re-pulling a window must replace it, never duplicate it: use
        :meth:`connector.engines.warehouse.WarehouseWriter.replace`.
        """
        raise NotImplementedError

    def secret(self, env: str) -> Secret:
        """Read a secret from the environment variable ``env``."""
        return from_env(env, f"the {self.name} source")
