"""``offramp demo``: the main job, end to end, on this machine alone.

Builds a demo warehouse (the Amperity tables ``Unified_Itemized_Transactions`` and
``Customer_360`` with real-world mess), saves ``queries/meta_offline_events.sql``
(the Amperity seed's example query, as written) when the project has none, starts
the Meta emulator on 127.0.0.1, runs the job with a progress display, and prints
what was sent, what was rejected and why. A second run then shows the ledger at
work: nothing changed, nothing sent.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources

import click

from connector.cli.app import Context, err, out, print_summary, run_with_progress
from connector.engines.warehouse import WarehouseWriter
from connector.kit.environ import temporary
from connector.kit.errors import ConfigError

JOB = "meta_offline_events"
DATASET = "123456789012345"
TOKEN = "offramp-emulator-token"
HEADER = f"""/* offramp
destination = "meta"

[settings]
dataset_id = "{DATASET}"
access_token_env = "META_ACCESS_TOKEN"
# The demo points this at the local emulator; unset, it is Meta's Graph API.
base_url = "${{META_BASE_URL:-https://graph.facebook.com}}"
default_country = "US"
*/
"""


def job_text() -> str:
    """The demo job: the header above and the seed's query, unchanged."""
    query = resources.files("plugins.meta").joinpath("demo_query.sql").read_text("utf-8")
    return HEADER + query.strip() + "\n"


@click.command()
@click.option("--orders", default=20_000, show_default=True, help="Orders in the demo warehouse.")
@click.pass_obj
def demo(c: Context, orders: int) -> None:
    """Build a demo warehouse, start the Meta emulator, and run the Meta job."""
    from plugins.meta.demo_data import build_demo_warehouse
    from plugins.meta.emulator import MetaEmulator

    project = c.project
    warehouse = project.warehouse
    if warehouse.kind != "duckdb":
        raise ConfigError("the demo builds a DuckDB warehouse; run it in a project whose "
                          "offramp.toml does not point at Parquet exports")
    today = dt.datetime.now(dt.UTC).date()
    with WarehouseWriter(warehouse) as writer:
        counts = build_demo_warehouse(writer, orders=orders, today=today)
    out.print(f"[bold]demo warehouse[/] {warehouse.path}: " + ", ".join(
        f"{table} {n:,} rows" for table, n in counts.items()))
    job_path = project.queries / f"{JOB}.sql"
    if not job_path.exists():
        job_path.parent.mkdir(parents=True, exist_ok=True)
        job_path.write_text(job_text(), encoding="utf-8")
        out.print(f"saved the job {job_path}")
    state = project.state_path(JOB)
    for leftover in (state, state.with_name(state.name + ".wal")):
        leftover.unlink(missing_ok=True)  # every demo starts from an empty ledger
    with MetaEmulator(tokens={TOKEN}) as emulator:
        with temporary({"META_BASE_URL": emulator.url, "META_ACCESS_TOKEN": TOKEN}):
            err.print(f"Meta emulator listening on {emulator.url}")
            first = run_with_progress(project, JOB)
            print_summary(first)
            out.print(f"[bold]emulator[/]: accepted {len(emulator.events()):,} events in "
                      f"{emulator.requests_accepted:,} requests, refused "
                      f"{emulator.requests_rejected:,} requests")
            second = run_with_progress(project, JOB)
            out.print(f"[bold]run again[/]: {second.counts.unchanged:,} events unchanged, "
                      f"{second.counts.delivered:,} sent (the ledger remembers what Meta has)")
    out.print(f"next: `offramp rejects {JOB}` lists each rejected event with its reason; "
              f"`offramp runs {JOB}` shows the history")
    if not first.ok:
        raise SystemExit(1)
