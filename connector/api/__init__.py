"""offramp as a Python library, for notebooks and scripts (``docs/python-api.md``).

:func:`open_project` returns a :class:`ProjectHandle`; :mod:`connector.api.project`
holds the handle and its tour, :mod:`connector.api.shaped` the plan and the events
held in DuckDB.
"""

from connector.api.project import (
    STATUSES,
    Events,
    Plan,
    Preview,
    ProjectHandle,
    installed_destinations,
    open_project,
)

__all__ = ["STATUSES", "Events", "Plan", "Preview", "ProjectHandle", "installed_destinations",
           "open_project"]
