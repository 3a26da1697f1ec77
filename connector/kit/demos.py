"""Demos: a destination's part in ``offramp demo --destination NAME``.

``offramp demo`` builds a demo warehouse in a folder of its own, saves a job, starts an
emulator, and runs the job twice (the built-in meta plugin owns the command and the
warehouse). A plugin whose destination can run on that warehouse registers a
:class:`Demo` with the ``register_demos`` hook::

    @hookimpl
    def register_demos(register):
        register(Demo(name="google", label="Google", job="google_offline_conversions",
                      job_text=job_text, start=start_emulator))

``start`` starts the plugin's emulator and yields a :class:`DemoEmulator`: its URL, the
environment variables the job needs while it runs (the emulator's URL, test
credentials), and a line saying what the emulator accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field


@dataclass
class DemoEmulator:
    """A started emulator, as the demo uses it.

    :param url: where it listens.
    :param env: environment variables to set while the demo's job runs.
    :param accepted: what the emulator accepted so far, in one line.
    """

    url: str
    env: dict[str, str] = field(default_factory=dict)
    accepted: Callable[[], str] = lambda: ""


@dataclass(frozen=True)
class Demo:
    """One destination's demo.

    :param name: ``offramp demo --destination NAME`` (the destination's name).
    :param label: the API's name in the demo's lines (``Meta``, ``Google``).
    :param job: the job's name: the demo saves ``queries/<job>.sql``.
    :param job_text: the job file's text (header and query over the demo warehouse's
        ``Unified_Itemized_Transactions`` and ``Customer_360``).
    :param start: starts the emulator: a context manager yielding a :class:`DemoEmulator`.
    """

    name: str
    label: str
    job: str
    job_text: Callable[[], str]
    start: Callable[[], AbstractContextManager[DemoEmulator]]
