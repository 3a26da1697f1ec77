"""The plugin kit: offramp's public API for plugins, with a stability promise.

A plugin (a built-in one or a pip package) imports from here, from
:mod:`connector.hookspecs` (the hooks), and from :mod:`connector.testing` (the test
kit), and from nowhere else in ``connector``: everything else is private and may
change in any release. ``connector.testing.check_imports`` checks a package for it.
What each name is for: ``docs/plugins.md``.

The names below are the kit's classes and functions; its modules are public too:

* :mod:`connector.kit.pacing`: asking offramp to space or pause requests;
* :mod:`connector.kit.http`: the shared session, sending with retryable errors,
  ``Retry-After``, multipart forms;
* :mod:`connector.kit.pii`: customer-information normalization and hashing as SQL;
* :mod:`connector.kit.pii_unicode`: lowercasing as Python does, and digits of every script, as SQL;
* :mod:`connector.kit.sql`: quoting values and names into SQL text;
* :mod:`connector.kit.events`: the shaped-event columns and their schema;
* :mod:`connector.kit.secrets`: secrets from environment variables, scrubbed from output;
* :mod:`connector.kit.tables`: typed tables a plugin keeps in a job's state file;
* :mod:`connector.kit.warehouse`: writing warehouse tables (sources, demos);
* :mod:`connector.kit.commands`: what a plugin's CLI commands use;
* :mod:`connector.kit.demos`: a destination's part in ``offramp demo --destination``;
* :mod:`connector.kit.environ`: environment variables set for a block;
* :mod:`connector.kit.fields`: setting types every plugin shares (``BaseUrl``, ``Seconds``).
"""

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
    Unconfirmed,
    ValidationError,
)
from connector.kit.events import SHAPED_EVENTS, shaped_schema
from connector.kit.fields import BaseUrl, Seconds
from connector.kit.runs import RunCounts, RunSummary
from connector.kit.secrets import Secret, safe_reason
from connector.kit.source import PullSummary, Source
from connector.kit.tables import PluginTable, PluginTables

__all__ = [
    "SHAPED_EVENTS",
    "BaseUrl",
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
    "PluginTable",
    "PluginTables",
    "PullSummary",
    "Request",
    "Response",
    "Retryable",
    "RunContext",
    "RunCounts",
    "RunSummary",
    "Seconds",
    "Secret",
    "Settings",
    "Source",
    "Unconfirmed",
    "ValidationError",
    "hookimpl",
    "safe_reason",
    "shaped_schema",
]

#: The kit's modules: with this package, connector.hookspecs and connector.testing,
#: the only parts of connector a plugin may import.
MODULES = ("commands", "contract", "demos", "destination", "emulator", "environ", "errors",
           "events", "fields", "http", "pacing", "pii", "pii_lookups", "pii_unicode", "runs",
           "secrets", "source", "sql", "tables", "warehouse")
