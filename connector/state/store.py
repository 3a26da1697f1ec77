"""One job's state: its runs, its ledger, its rejects, its plugins' tables.

The state package is the one owner of the state file: every statement that reads or
writes it is in this package, and every transaction on it is
:meth:`~connector.state.base.Connected.transaction`.

One DuckDB file per job (``.offramp/state/<job>.duckdb``), because DuckDB allows one
writing process per file: jobs run side by side, while a second run of the same job
is refused by :mod:`connector.run.lock` before it gets here.
"""

from __future__ import annotations

from typing import Any

from connector.state.outcomes import Outcomes
from connector.state.plugin_tables import PluginTableStore
from connector.state.runs import Runs
from connector.state.schema import DDL


class State(Runs, Outcomes, PluginTableStore):
    """A job's state through a DuckDB connection that has the state file attached as
    ``state`` (a cursor of :class:`connector.engines.warehouse.Engine`, or
    :func:`connector.state.files.open_state`).

    :param create: create the tables when missing; False for a state file attached
        read-only.
    """

    def __init__(self, con: Any, *, create: bool = True):
        super().__init__(con)
        if create:
            for statement in DDL.split(";"):
                if statement.strip():
                    self.run(statement)

    def close_abandoned_runs(self) -> int:
        """Mark runs left 'running' by a killed process as 'killed', with the counts of
        what their ledger holds (what a killed process read is not known: its events are
        the ones it settled); returns how many."""
        run_ids = self.mark_abandoned_runs()
        for run_id in run_ids:
            self.recount(run_id, self.run_outcomes(run_id)[0])
        return len(run_ids)

    def close(self) -> None:
        self.con.close()
