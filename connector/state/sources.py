"""The ``sources`` and ``source_rejects`` tables of incremental runs
(:mod:`connector.run.incremental`): the keys whose events are settled, with the
fingerprint of their rows, and their lasting rejects.

These statements run on the engine's own connection, beside the run's temporary
tables: the keys' fingerprints (``keys``, a relation with ``source_key``,
``fingerprint`` and ``source_rows``), the keys skipped this run (``offramp_skip``),
and the events the run noted (a relation with ``source_key``, ``event_key``,
``route``, ``reject_reason``, ``unchanged``, ``lasting``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from connector.state.base import Connected

SKIP = "offramp_skip"


@dataclass
class Skipped:
    """The keys whose rows were not shaped, and what they stand for."""

    keys: int = 0
    events: int = 0
    rows: int = 0
    #: events rejected before sending, for a reason that stays while the rows do;
    #: reported again (in ``state.rejects``) on every run that skips them
    rejects: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class Sources(Connected):
    def any_known(self) -> bool:
        """Whether some key is remembered at all."""
        return bool(self.one("SELECT count(*) > 0 FROM state.sources"))

    def find_unchanged(self, keys: str) -> Skipped:
        """Note in the temporary table :data:`SKIP` the keys of ``keys`` whose rows have
        the fingerprint remembered for them; returns what they stand for."""
        self.run(f"""
            CREATE OR REPLACE TEMP TABLE {SKIP} AS
            SELECT s.source_key, s.events, s.rejects, s.source_rows
            FROM {keys} AS k JOIN state.sources AS s
              ON s.source_key = k.source_key AND s.fingerprint = k.fingerprint""")
        n, events, rejects, rows = self.run(
            "SELECT count(*), coalesce(sum(events), 0), coalesce(sum(rejects), 0), "
            f"coalesce(sum(source_rows), 0) FROM {SKIP}")[0]
        return Skipped(int(n), int(events), int(rows), int(rejects))

    def report_rejects(self, run_id: int) -> dict[str, int]:
        """Record the lasting rejects of the skipped keys as run ``run_id``'s; returns how
        many per reason."""
        skipped = (f"FROM state.source_rejects AS r JOIN {SKIP} AS k "
                   "ON k.source_key = r.source_key")
        self.run("INSERT INTO state.rejects (run_id, event_key, route, stage, reason) "
                 f"SELECT {int(run_id)}, r.event_key, r.route, 'shape', r.reason {skipped}")
        return dict(self.run(f"SELECT r.reason, count(*) {skipped} GROUP BY r.reason "
                             "ORDER BY count(*) DESC, r.reason"))

    def forget(self, keep_skipped: bool = False) -> None:
        """Forget every remembered key, or (``keep_skipped``) all but the skipped ones:
        the others are about to be shaped and sent again."""
        for table in ("sources", "source_rejects"):
            self.run(f"DELETE FROM state.{table} AS s WHERE NOT EXISTS (SELECT 1 FROM "
                     f"{SKIP} AS k WHERE k.source_key = s.source_key)" if keep_skipped else
                     f"DELETE FROM state.{table}")

    def settle(self, run_id: int, events: str, keys: str) -> int:
        """Remember the keys of ``keys`` all of whose ``events`` are now settled: in the
        ledger with this run's payload (delivered or refused), unchanged, or rejected
        before sending for a reason the clock cannot change (``lasting``: kept in
        ``source_rejects``, reported again while the key is skipped). Returns how many
        keys; the writes are one transaction.

        First the keys with an event that is not settled (normally few), then the
        others' counts: one query joining every event to its outcome and grouping by
        key needs several times the memory (docs/benchmarks.md)."""
        self.run(f"""
            CREATE OR REPLACE TEMP TABLE offramp_unsettled AS
            WITH outcome AS (
                SELECT event_key, arg_max(status IN ('delivered', 'rejected'), seq) AS settled
                FROM state.ledger WHERE run_id = {int(run_id)} GROUP BY event_key)
            SELECT DISTINCT e.source_key
            FROM {events} AS e LEFT JOIN outcome AS o ON o.event_key = e.event_key
            WHERE e.source_key IS NOT NULL
              AND NOT (e.unchanged OR e.lasting OR coalesce(o.settled, FALSE))""")
        self.run(f"""
            CREATE OR REPLACE TEMP TABLE offramp_settled AS
            SELECT e.source_key, count(*) AS events, count(*) FILTER (WHERE e.lasting) AS rejects
            FROM {events} AS e
            WHERE e.source_key IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM offramp_unsettled AS u WHERE u.source_key = e.source_key)
            GROUP BY e.source_key""")
        with self.transaction():
            [(kept,)] = self.run(f"""
                INSERT INTO state.sources
                SELECT k.source_key, k.fingerprint, s.events, s.rejects, k.source_rows
                FROM offramp_settled AS s JOIN {keys} AS k ON k.source_key = s.source_key""")
            self.run(f"""
                INSERT INTO state.source_rejects
                SELECT e.source_key, e.event_key, e.route, e.reject_reason
                FROM {events} AS e
                JOIN offramp_settled AS s ON s.source_key = e.source_key AND s.rejects > 0
                WHERE e.lasting""")
        return int(kept)
