"""offramp's core: saved SQL sync jobs over DuckDB and Parquet, streamed to plugins.

The public parts: the plugin kit (:mod:`connector.kit`, whose names are also
importable from here), the hooks (:mod:`connector.hookspecs`), the test kit
(:mod:`connector.testing`) and the Python API (:mod:`connector.api`, whose names are
importable from here too). Everything else is private.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connector.kit import *  # noqa: F403  (the kit's names, as its __all__ lists them)
from connector.kit import __all__ as _KIT

if TYPE_CHECKING:
    from connector.api import (  # noqa: F401  (names of __all__, imported on first use)
        Events,
        Plan,
        Preview,
        ProjectHandle,
        installed_destinations,
        open_project,
    )

__version__ = "0.1.0"

#: The Python API (:mod:`connector.api`), imported on first use so that plugins
#: importing ``connector`` do not load DuckDB and sqlglot.
_API = ("Events", "Plan", "Preview", "ProjectHandle", "installed_destinations", "open_project")


def __getattr__(name: str) -> Any:
    if name in _API:
        from connector import api

        return getattr(api, name)
    raise AttributeError(f"module 'connector' has no attribute {name!r}")


__all__ = sorted([*_KIT, *_API])
