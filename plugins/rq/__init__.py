"""iQmetrix RQ Data Connect: pull the Marketing Report into the warehouse.

``offramp pull rq --from 2024-05-01 --to 2024-05-07`` fetches the Facebook Offline
Conversions Marketing Report per company and per day into ``rq_marketing_report``;
``queries/rq_marketing_to_meta.sql`` (a saved job in offramp's repository) sends it on to Meta;
``offramp emulate rq`` serves a local emulator of the API. See ``docs/rq.md``.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.kit import hookimpl
from plugins.rq.emulator import RqEmulator
from plugins.rq.source import RqSettings, RqSource

__all__ = ["RqEmulator", "RqSettings", "RqSource"]


@hookimpl
def register_sources(register: Callable[[type], None]) -> None:
    register(RqSource)
