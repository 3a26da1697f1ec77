"""The tables of a job's state file, and the query of each event's latest outcome.

Tables (no raw PII: event keys, hashed payload fingerprints, reasons):

* ``runs``: one row per run: times, status, counts (of events, and of line items
  refused on their own), error. A state file from before ``line_items`` gains it.
* ``ledger``: append-only; one row per event per outcome (``delivered``, ``rejected``
  by the destination, ``failed`` after retries). The latest row of each event key is
  its state; the diff joins against it inside DuckDB.
* ``rejects``: every event refused in a run, before sending (``stage='shape'``) or by
  the destination (``stage='destination'``), with the reason.
* ``sources`` and ``source_rejects``: for incremental runs, the keys whose events are
  settled, with their rows' fingerprint (:mod:`connector.run.incremental`).

Plugins keep their own tables beside these (:mod:`connector.kit.tables`).
"""

from __future__ import annotations

#: offramp's own tables, in the schema ``state``.
TABLES = ("runs", "ledger", "rejects", "sources", "source_rejects")

DDL = """
CREATE SEQUENCE IF NOT EXISTS state.run_ids START 1;
CREATE SEQUENCE IF NOT EXISTS state.ledger_seq START 1;
CREATE TABLE IF NOT EXISTS state.runs (
    run_id BIGINT PRIMARY KEY, job VARCHAR, destination VARCHAR,
    started_at TIMESTAMP, finished_at TIMESTAMP, status VARCHAR, dry_run BOOLEAN,
    rows_read BIGINT, events BIGINT, unchanged BIGINT, delivered BIGINT,
    rejected BIGINT, failed BIGINT, pending BIGINT, requests BIGINT, bytes BIGINT,
    error VARCHAR, line_items BIGINT);
ALTER TABLE state.runs ADD COLUMN IF NOT EXISTS line_items BIGINT;
CREATE TABLE IF NOT EXISTS state.ledger (
    seq BIGINT DEFAULT nextval('state.ledger_seq'), event_key VARCHAR NOT NULL,
    fingerprint VARCHAR, status VARCHAR NOT NULL, reason VARCHAR, run_id BIGINT,
    recorded_at TIMESTAMP DEFAULT current_timestamp::TIMESTAMP, route VARCHAR);
CREATE TABLE IF NOT EXISTS state.rejects (
    run_id BIGINT, event_key VARCHAR, route VARCHAR, stage VARCHAR, reason VARCHAR,
    recorded_at TIMESTAMP DEFAULT current_timestamp::TIMESTAMP);
CREATE TABLE IF NOT EXISTS state.sources (
    source_key VARCHAR NOT NULL, fingerprint UBIGINT NOT NULL, events BIGINT NOT NULL,
    rejects BIGINT NOT NULL, source_rows BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS state.source_rejects (
    source_key VARCHAR NOT NULL, event_key VARCHAR, route VARCHAR, reason VARCHAR NOT NULL)
"""

#: The latest state of each event that needs no resend: delivered, or refused by
#: the destination, with the fingerprint and the route it had then.
SETTLED = """
SELECT event_key, arg_max(fingerprint, seq) AS fingerprint, arg_max(status, seq) AS status,
       arg_max(route, seq) AS route
FROM state.ledger GROUP BY event_key
"""
