"""``offramp demo [DIR]``: the main job, end to end, on this machine alone.

The demo works in a folder of its own (``./offramp-demo`` unless given), never in the
user's project: it builds a demo warehouse there (the Amperity tables
``Unified_Itemized_Transactions`` and ``Customer_360`` with real-world mess), saves
``queries/meta_offline_events.sql`` (the Amperity seed's example query, as written)
when the folder has none, starts the Meta emulator on 127.0.0.1, runs the job with a
progress display, and prints what was sent, what was rejected and why. A second run
then shows the ledger at work: nothing changed, nothing sent.

Each demo starts from an empty ledger, because the emulator it starts is new and holds
no event: the demo's own state file is removed first, and the demo says so. A folder
that exists and was not made by the demo is refused, so the demo never writes into a
user's warehouse.
"""

from __future__ import annotations

import datetime as dt
import shutil
from importlib import resources
from pathlib import Path

import click

from connector import open_project
from connector.kit import ConfigError
from connector.kit.commands import echo, run_job
from connector.kit.environ import temporary

JOB = "meta_offline_events"
DATASET = "123456789012345"
TOKEN = "offramp-emulator-token"
#: The file that marks a folder as the demo's own.
MARKER = ".offramp-demo"
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


def demo_folder(folder: Path) -> list[str]:
    """Make ``folder`` the demo's (refusing a folder of someone else's); returns what was
    created in it."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file: give the demo a folder (offramp demo DIR)")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise ConfigError(f"{folder} exists and is not an offramp demo folder: the demo never "
                          "writes into a folder it did not make. Give it another one: "
                          "offramp demo DIR")
    created = [] if folder.is_dir() else [f"the folder {folder}"]
    (folder / "queries").mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `offramp demo`; the demo may rebuild this folder\n",
                                 encoding="utf-8")
    job = folder / "queries" / f"{JOB}.sql"
    if not job.exists():
        job.write_text(job_text(), encoding="utf-8")
        created.append(f"the job {job}")
    return created


@click.command()
@click.argument("folder", required=False, default="offramp-demo",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--orders", default=20_000, show_default=True, help="Orders in the demo warehouse.")
def demo(folder: Path, orders: int) -> None:
    """Run the Meta job end to end in a demo folder of its own (default ./offramp-demo):
    a demo warehouse, the saved job, the local Meta emulator, two runs."""
    from plugins.meta.demo_data import build_demo_warehouse
    from plugins.meta.emulator import MetaEmulator

    created = demo_folder(folder)
    project = open_project(folder)
    today = dt.datetime.now(dt.UTC).date()
    with project.writer() as writer:
        counts = build_demo_warehouse(writer, orders=orders, today=today)
    echo(f"[bold]demo project[/] {project.root}: " + "; ".join(
        [*created, "the warehouse warehouse.duckdb (" + ", ".join(
            f"{table} {n:,} rows" for table, n in counts.items()) + ")"]))
    state = project.root / ".offramp" / "state"
    if state.exists():
        shutil.rmtree(state)
        echo("starting from an empty ledger: the emulator is new and has no event yet "
             f"(removed the demo's state in {state})")
    with MetaEmulator(tokens={TOKEN}) as emulator:
        with temporary({"META_BASE_URL": emulator.url, "META_ACCESS_TOKEN": TOKEN}):
            echo(f"Meta emulator listening on {emulator.url}", err=True)
            first = run_job(project, JOB)
            echo(f"[bold]emulator[/]: accepted {len(emulator.events()):,} events in "
                 f"{emulator.requests_accepted:,} requests, refused "
                 f"{emulator.requests_rejected:,} requests")
            second = run_job(project, JOB, summary=False)
            echo(f"[bold]run again[/]: {second.counts.unchanged:,} events unchanged, "
                 f"{second.counts.delivered:,} sent (the ledger remembers what Meta has)")
    echo(f"next: cd {folder} && offramp rejects {JOB} lists each rejected event with its "
         f"reason; offramp runs {JOB} shows the history")
    if not first.ok:
        raise SystemExit(1)
