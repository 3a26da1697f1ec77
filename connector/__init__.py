"""offramp's core: saved SQL sync jobs over DuckDB and Parquet, streamed to plugins.

Plugins import what they need from here; anything not in ``__all__`` is internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connector.hookspecs import hookimpl
from connector.kit.contract import Column, Contract
from connector.kit.destination import Batch, Destination, Limits, Outcome, RunContext, Settings
from connector.kit.emulator import Emulator, Fault, Request, Response
from connector.kit.errors import (
    BatchRejected,
    ConfigError,
    DeliveryError,
    Fatal,
    OfframpError,
    PluginError,
    Retryable,
    ValidationError,
)
from connector.kit.source import PullSummary, Source

if TYPE_CHECKING:
    from connector.api import (
        Events,
        Plan,
        Preview,
        ProjectHandle,
        installed_destinations,
        open_project,
    )

__version__ = "0.1.0"

#: The Python API (:mod:`connector.api.project`), imported on first use so that plugins
#: importing ``connector`` do not load DuckDB and sqlglot.
_API = frozenset({"Events", "Plan", "Preview", "ProjectHandle", "installed_destinations",
                  "open_project"})


def __getattr__(name: str) -> Any:
    if name in _API:
        from connector import api

        return getattr(api, name)
    raise AttributeError(f"module 'connector' has no attribute {name!r}")

__all__ = [
    "Batch",
    "BatchRejected",
    "Column",
    "ConfigError",
    "Contract",
    "DeliveryError",
    "Destination",
    "Emulator",
    "Events",
    "Fatal",
    "Fault",
    "Limits",
    "OfframpError",
    "Outcome",
    "Plan",
    "PluginError",
    "Preview",
    "ProjectHandle",
    "PullSummary",
    "Request",
    "Response",
    "Retryable",
    "RunContext",
    "Settings",
    "Source",
    "ValidationError",
    "hookimpl",
    "installed_destinations",
    "open_project",
]
