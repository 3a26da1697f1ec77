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
from connector.kit.tables import PluginTable

if TYPE_CHECKING:
    import click
    import requests

    from connector.kit.emulator import Emulator
    from connector.kit.warehouse import SourceWriter


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

    def tables(self) -> tuple[PluginTable, ...]:
        """The warehouse tables the source writes, with their schemas and key columns
        (their names may come from the settings); :meth:`pull` writes only these."""
        return ()

    @classmethod
    def cli_options(cls) -> list[click.Parameter]:
        """Extra options for ``offramp pull NAME`` (their values reach :meth:`pull`)."""
        return []

    def pull(self, *, writer: SourceWriter, start: dt.date, stop: dt.date,
             options: dict[str, Any]) -> PullSummary:
        """Fetch ``start``..``stop`` (inclusive days) and write it with ``writer``.

        Write each window with :meth:`connector.kit.warehouse.SourceWriter.replace`, which
        replaces the rows of the window's key values: re-pulling a window replaces it,
        never duplicates it.
        """
        raise NotImplementedError

    def secret(self, env: str) -> Secret:
        """Read a secret from the environment variable ``env``."""
        return from_env(env, f"the {self.name} source")
