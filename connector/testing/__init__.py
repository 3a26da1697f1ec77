"""Test tools for plugin authors: the same ones offramp's own tests use.

Installed with offramp as a pytest plugin (entry point ``pytest11: offramp``), so these
fixtures are available in any project that has offramp installed:

* ``offramp_project``: ``offramp_project(tables={...}, jobs={...})`` makes a project
  in a temporary folder: a DuckDB warehouse holding ``tables`` (name -> list of dicts
  or an Arrow table) and ``queries/<job>.sql`` for each job
  (name -> ``(destination, settings, sql)``).
* ``recording_sink``: a started :class:`RecordingSink` (answers 200, keeps bodies).
* ``offramp_emulator``: ``offramp_emulator("meta")`` starts the emulator an installed
  destination or source ships, and stops it after the test.
* ``offramp_plugin``: ``offramp_plugin(module_or_object)`` registers a plugin for one test.

:func:`check_destination` is the conformance suite every destination must pass, a
sequence of named checks (:data:`CHECKS`; :func:`run_check` runs one):

>>> check_destination(MyDestination, settings={...}, rows=[...],    # doctest: +SKIP
...                   emulator=emu, env={"MY_TOKEN": "t0k3n-value"}, bad_rows=[...])

:func:`check_imports` says which private parts of offramp a package imports:

>>> assert not check_imports(Path(my_plugin.__file__).parent)   # doctest: +SKIP
"""


from connector.testing.conformance import CHECKS, check_destination, run_check
from connector.testing.fixtures import (
    offramp_emulator,
    offramp_plugin,
    offramp_project,
    recording_sink,
)
from connector.testing.imports import check_imports
from connector.testing.projects import make_project, registered, to_toml, write_job
from connector.testing.sink import RecordingSink

__all__ = ["CHECKS", "RecordingSink", "check_destination", "check_imports", "make_project",
           "offramp_emulator", "offramp_plugin", "offramp_project", "recording_sink",
           "registered", "run_check", "to_toml", "write_job"]
