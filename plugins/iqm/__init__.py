"""The IQM destination plugin: conversions, campaign assignment and pixel fires.

See docs/iqm.md for settings, modes and the gaps in IQM's public documentation.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.kit import hookimpl
from plugins.iqm.destination import IqmDestination
from plugins.iqm.emulator import IqmEmulator
from plugins.iqm.settings import IqmSettings

__all__ = ["IqmDestination", "IqmEmulator", "IqmSettings", "register_destinations"]


@hookimpl
def register_destinations(register: Callable[[type], None]) -> None:
    """Register the ``iqm`` destination."""
    register(IqmDestination)
