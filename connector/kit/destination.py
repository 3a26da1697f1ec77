"""The base class every destination plugin subclasses.

A destination turns the rows of a job's query into events and delivers them.
Shaping happens in DuckDB: :meth:`Destination.shape_sql` returns one SELECT that
wraps the user's query and yields one row per event. Delivery happens in Python:
the core cuts the events into requests that respect :attr:`Destination.limits`
and calls :meth:`Destination.deliver` for each, from several threads at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
import pydantic

from connector.kit.contract import Contract
from connector.kit.events import SHAPED_EVENTS
from connector.kit.pacing import Pacer
from connector.kit.secrets import Secret, from_env
from connector.kit.tables import PluginTable, PluginTables

if TYPE_CHECKING:
    import requests

    from connector.kit.emulator import Emulator
    from connector.kit.runs import RunSummary


@dataclass(frozen=True)
class Limits:
    """What one API accepts, declared by each destination.

    :param max_events: events in one request.
    :param max_bytes: bytes in one request body.
    :param concurrency: requests in flight at once.
    :param rate_per_second: requests started per second, across all threads (None: no limit).
    :param max_attempts: attempts per request for transient failures (throttling not counted).
    :param give_up_after: seconds a request may keep failing before the run stops,
        leaving the rest pending for the next run.
    :param timeout: seconds to wait for a response.
    :param max_unconfirmed: requests the API may confirm only in part
        (:class:`~connector.kit.errors.Unconfirmed`) before the run stops.
    """

    max_events: int = 1000
    max_bytes: int = 4_000_000
    concurrency: int = 4
    rate_per_second: float | None = None
    max_attempts: int = 6
    give_up_after: float = 300.0
    timeout: float = 30.0
    max_unconfirmed: int = 3


@dataclass(frozen=True)
class RunContext:
    """What a destination knows about the run it serves.

    :param job: the job's name.
    :param now: the run's clock (UTC); time windows are measured from it.
    :param first_send: True when nothing was ever delivered for this job.
    :param dry_run: True when requests are built but not sent.
    :param root: the project folder: a relative path in the settings (a file to
        write, say) is relative to it, wherever offramp was started from.
    """

    job: str
    now: dt.datetime
    first_send: bool = True
    dry_run: bool = False
    root: Path | None = None


class Batch:
    """One request's worth of events, all for one route.

    :param route: where these events go (for example a Meta dataset id); the
        ``route`` column of :meth:`Destination.shape_sql`, ``None`` when unused.
    :param keys: the event keys, in order: a sequence of strings, or an Arrow string
        array (the core passes Arrow arrays, read as lists only when a plugin asks).
    :param payloads: each event's JSON text, in the same order (strings or Arrow).
    :param array: the payloads already joined as one JSON array, when known: text, or
        its UTF-8 bytes (the core passes bytes, joined by Arrow).
    """

    def __init__(self, route: str | None, keys: Sequence[str] | pa.Array,
                 payloads: Sequence[str] | pa.Array, *, array: str | bytes | None = None):
        self.route = route
        self._keys, self._payloads, self._array = keys, payloads, array

    @property
    def keys(self) -> Sequence[str]:
        """The event keys as a sequence of strings."""
        if isinstance(self._keys, pa.Array):
            self._keys = self._keys.to_pylist()
        return self._keys

    @property
    def payloads(self) -> Sequence[str]:
        """The payloads as a sequence of strings."""
        if isinstance(self._payloads, pa.Array):
            self._payloads = self._payloads.to_pylist()
        return self._payloads

    def key_array(self) -> pa.Array:
        """The event keys as an Arrow string array (for the ledger)."""
        if isinstance(self._keys, pa.Array):
            return self._keys
        return pa.array(self._keys, pa.string())

    def __len__(self) -> int:
        return len(self._payloads)

    def __repr__(self) -> str:
        return f"Batch(route={self.route!r}, events={len(self)})"

    def array(self) -> str:
        """The payloads as one JSON array (``[a,b]``), built without parsing them."""
        if isinstance(self._array, bytes):
            return self._array.decode()
        if self._array is None:
            self._array = "[" + ",".join(self.payloads) + "]"
        return self._array

    def array_bytes(self) -> bytes:
        """The same JSON array as UTF-8 bytes: what a request body holds. The core hands
        each request this array already joined by Arrow, so a body built from it only
        copies bytes, where :meth:`array` decodes it into text (and a body built from
        that text encodes it again: about a megabyte each way per request)."""
        if isinstance(self._array, bytes):
            return self._array
        return self.array().encode()

    def split(self) -> tuple[Batch, Batch]:
        """Two halves of this batch, for isolating a bad event."""
        mid = len(self) // 2
        keys, payloads = self._keys, self._payloads
        return (Batch(self.route, keys[:mid], payloads[:mid]),
                Batch(self.route, keys[mid:], payloads[mid:]))


@dataclass
class Outcome:
    """What became of one delivered request.

    :param rejected: index in the batch -> reason, for events the API refused
        while accepting the others. Everything not listed was delivered.
    :param info: counts or notes worth keeping (for example ``events_received``).
    """

    rejected: dict[int, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


class Settings(pydantic.BaseModel):
    """Base for a destination's settings: unknown keys are an error."""

    model_config = pydantic.ConfigDict(extra="forbid")


class Destination:
    """Subclass this to add a destination.

    Class attributes to set: :attr:`name`, :attr:`summary`, :attr:`contract`,
    :attr:`Settings`, :attr:`limits`, and optionally :attr:`emulator`.
    Methods to write: :meth:`shape_sql` and :meth:`deliver`; :meth:`open` and
    :meth:`close` when the API needs a login.
    """

    #: The name jobs use (``destination = "meta"``); unique across plugins.
    name: ClassVar[str] = ""
    #: One line for ``offramp destinations``.
    summary: ClassVar[str] = ""
    #: The columns this destination needs from a query.
    contract: ClassVar[Contract] = Contract()
    #: The settings model; a job's ``[settings]`` table is validated against it.
    Settings: ClassVar[type[Settings]] = Settings
    #: The API's limits. Set on the class; a destination whose limits depend on its
    #: settings (say, a ``concurrency`` setting) sets its own on the instance.
    limits: Limits = Limits()
    #: A local emulator of the API (``offramp emulate NAME``), if the plugin ships one.
    emulator: ClassVar[type[Emulator] | None] = None
    #: Resend an event whose payload changed since it was delivered. Set False (on the
    #: class or the instance) for APIs that count every request and cannot update an
    #: event, such as a conversion pixel: a delivered event is then never sent again
    #: (one the API refused is still sent again when its payload changes).
    resend_changed: bool = True
    #: :meth:`shape_sql` makes at most one event per ``event_key`` that is not rejected
    #: (it groups by the key, say). offramp then skips its own duplicate-key check, a
    #: window over every event that can cost more than the shaping itself. Leave
    #: False unless the SQL guarantees it: :func:`connector.testing.check_destination`
    #: checks the claim by shaping every row twice.
    unique_keys: ClassVar[bool] = False
    #: The columns :meth:`shape_sql` returns (:mod:`connector.kit.events`): the four
    #: every shaping returns, and the optional ones it adds
    #: (``shaped_schema(SOURCE_ROWS, ...)``). Checked once per run, before any row is read.
    events_schema: ClassVar[pa.Schema] = SHAPED_EVENTS
    #: Reject reasons whose shaped rows stand for one line item refused on its own (a
    #: returned line left out of its order's event, a row without an order id), not for
    #: an event: run summaries count them as line items, apart from the events
    #: (:attr:`RunCounts.line_items <connector.kit.runs.RunCounts>`). A destination that
    #: groups line items into orders sets :data:`connector.kit.events.LINE_ITEM_REASONS`.
    line_item_reasons: ClassVar[tuple[str, ...]] = ()
    #: Tables the destination keeps in each job's state file (:mod:`connector.kit.tables`),
    #: written through the :class:`~connector.kit.tables.PluginTables` that
    #: :meth:`after_run` receives.
    tables: ClassVar[tuple[PluginTable, ...]] = ()

    def __init__(self, settings: pydantic.BaseModel, context: RunContext):
        self.settings = settings
        self.context = context
        self.http: requests.Session | None = None
        #: Ask offramp to space or pause request starts (:mod:`connector.kit.pacing`).
        self.pacer = Pacer()

    # -- shaping -------------------------------------------------------------------
    def shape_sql(self, source: str, columns: dict[str, str]) -> str:
        """Return one DuckDB SELECT over the relation named ``source`` (the job's
        query, as a view: write ``FROM {source} AS src``) that yields one row per event
        with the columns of :attr:`events_schema` (see :mod:`connector.kit.events`):

        * ``event_key``: stable identity of the event (the ledger key);
        * ``route``: where it goes (NULL when the destination has one target);
        * ``payload``: the event as JSON text. Build it for rejected events too when
          you can: an event already delivered with the same payload counts as
          unchanged and is not rejected again when, say, it has aged out of the window;
        * ``reject_reason``: why the event must not be sent, NULL when fine;
        * ``source_rows`` (optional): how many query rows made the event;
        * ``source_key`` (when :meth:`source_key` gives a key): the key of the rows that
          made the event, NULL when they have none;
        * ``reject_timed`` (optional, with ``source_key``): TRUE when the reject reason
          could change with the run's clock alone (say, "in the future"). Rejects it
          marks FALSE are remembered with their key, and reported again without
          shaping while the key's rows stay the same; without the column, a key with a
          rejected event is shaped on every run.

        :param columns: the query's output columns and their DuckDB types.
        """
        raise NotImplementedError

    def source_key(self, columns: dict[str, str]) -> str | None:
        """The key that groups the job's rows into events, as a DuckDB expression over
        the row ``src`` (the same text :meth:`shape_sql` groups by), or None (the
        default). Give one only when the events made from the rows of one key depend
        on those rows and the settings alone: not on other rows, and not on the run's
        clock (except their reject reasons). offramp then fingerprints each key's rows
        and, on later runs, skips shaping the keys whose rows did not change since
        their events were settled (:mod:`connector.run.incremental`);
        :func:`connector.testing.check_destination` checks the promise.

        :param columns: the query's output columns and their DuckDB types.
        """
        return None

    @classmethod
    def warnings(cls, settings: pydantic.BaseModel) -> list[str]:
        """Cautions about a job's validated ``settings`` that do not stop it: each line is
        shown by ``offramp validate`` and kept in the notes of every run (``offramp run``
        prints them). Say what the setting does that the user may not expect, and what to
        do instead. The default has none.

        :param settings: the job's settings, validated against :attr:`Settings`.
        """
        return []

    # -- delivery ------------------------------------------------------------------
    def open(self, http: requests.Session) -> None:
        """Prepare to deliver (log in, look things up). Called once per run, not in
        dry runs. The session is shared by all delivery threads."""
        self.http = http

    def encode(self, batch: Batch) -> bytes:
        """The request body for ``batch``. Dry runs call this to build every request
        without sending it; :meth:`deliver` usually calls it too. By default, the
        payloads as one JSON array."""
        return batch.array_bytes()

    def deliver(self, batch: Batch) -> Outcome:
        """Send one request and say what became of each event.

        Return an :class:`Outcome` (events it lists as rejected are recorded with
        their reason; the rest count as delivered). Raise
        :class:`connector.kit.errors.Retryable` for transient failures,
        :class:`connector.kit.errors.BatchRejected` when the API refused the whole
        request for events it did not name, :class:`connector.kit.errors.Fatal` to stop
        the run. Called from several threads at once.
        """
        raise NotImplementedError

    def close(self) -> None:
        """Release what :meth:`open` acquired."""

    def after_run(self, summary: RunSummary, tables: PluginTables) -> list[str]:
        """Called once after a run that delivered events (never in dry runs), for
        follow-up work such as fetching the API's delivery report. A run that stopped
        early (``summary.status`` is ``failed``) but delivered some events gets the call
        too, so that what was delivered is followed up.

        :param summary: the run's :class:`connector.kit.runs.RunSummary`.
        :param tables: the destination's declared :attr:`tables` in the job's state file.
        :return: lines to show the user. An exception here is reported, and does not
            change the run's outcome.
        """
        return []

    @classmethod
    def describe_state(cls, tables: PluginTables, job: str) -> list[str]:
        """Lines that ``offramp runs JOB`` prints under the job's runs, read from the
        destination's declared :attr:`tables` (say, what the API reported later about
        the requests). The default prints nothing.

        :param tables: the destination's tables in the job's state file (read them).
        :param job: the job's name.
        """
        return []

    # -- helpers for subclasses -----------------------------------------------------
    def secret(self, env: str) -> Secret:
        """Read a secret from the environment variable ``env`` (:mod:`connector.kit.secrets`)."""
        return from_env(env, f"the {self.name} destination")
