"""A job's state file: runs, the per-event ledger, rejects, incremental keys and the
plugins' tables (:mod:`connector.state.schema`). This package is the only code that
reads or writes it.
"""

from connector.state.files import open_state
from connector.state.schema import SETTLED
from connector.state.sources import Skipped, Sources
from connector.state.store import State

__all__ = ["SETTLED", "Skipped", "Sources", "State", "open_state"]
