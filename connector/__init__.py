"""offramp's core: saved SQL sync jobs over DuckDB and Parquet, streamed to plugins.

Plugins import what they need from here; anything not in ``__all__`` is internal.
"""

from __future__ import annotations

from connector.contract import Column, Contract
from connector.destination import Batch, Destination, Limits, Outcome, RunContext, Settings
from connector.emulator import Emulator, Fault, Request, Response
from connector.errors import (
    BatchRejected,
    ConfigError,
    DeliveryError,
    Fatal,
    OfframpError,
    PluginError,
    Retryable,
    ValidationError,
)
from connector.hookspecs import hookimpl
from connector.source import PullSummary, Source

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "BatchRejected",
    "Column",
    "ConfigError",
    "Contract",
    "DeliveryError",
    "Destination",
    "Emulator",
    "Fatal",
    "Fault",
    "Limits",
    "OfframpError",
    "Outcome",
    "PluginError",
    "PullSummary",
    "Request",
    "Response",
    "Retryable",
    "RunContext",
    "Settings",
    "Source",
    "ValidationError",
    "hookimpl",
]
