"""Microsoft Advertising: offline conversions upload (ApplyOfflineConversions) and the
offline-conversion report (GetOfflineConversionReportByGoalIds), with a local emulator.

See docs/microsoft.md.
"""

from __future__ import annotations

from connector.kit import hookimpl


@hookimpl
def register_destinations(register):
    from plugins.microsoft.destination import MicrosoftAdsDestination

    register(MicrosoftAdsDestination)


@hookimpl
def register_commands(cli):
    from plugins.microsoft.cli import add_commands

    add_commands(cli)
