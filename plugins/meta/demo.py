"""``offramp demo [DIR] [--destination NAME]``: the main job, end to end, on this machine
alone.

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

``--destination NAME`` runs another plugin's demo on the same warehouse: plugins register
their job and emulator with the ``register_demos`` hook (:mod:`connector.kit.demos`);
this plugin registers the Meta one, the default.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import click

from connector import open_project
from connector.kit import ConfigError
from connector.kit.commands import demos, echo, run_job
from connector.kit.demos import Demo, DemoEmulator
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


def demo_folder(folder: Path, job: str = JOB, text: str | None = None) -> list[str]:
    """Make ``folder`` the demo's (refusing a folder of someone else's), with the job
    ``queries/<job>.sql`` (``text``; default the Meta job) unless it is there; returns what
    was created in it."""
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
    path = folder / "queries" / f"{job}.sql"
    if not path.exists():
        path.write_text(text if text is not None else job_text(), encoding="utf-8")
        created.append(f"the job {path}")
    return created


@contextmanager
def start_emulator() -> Iterator[DemoEmulator]:
    """The Meta emulator, for the demo (:mod:`connector.kit.demos`)."""
    from plugins.meta.emulator import MetaEmulator

    with MetaEmulator(tokens={TOKEN}) as emulator:
        yield DemoEmulator(
            emulator.url, {"META_BASE_URL": emulator.url, "META_ACCESS_TOKEN": TOKEN},
            lambda: (f"accepted {len(emulator.events()):,} events in "
                     f"{emulator.requests_accepted:,} requests, refused "
                     f"{emulator.requests_rejected:,} requests"))


#: The Meta demo: what ``offramp demo`` runs without ``--destination``.
DEMO = Demo(name="meta", label="Meta", job=JOB, job_text=job_text, start=start_emulator)


@click.command()
@click.argument("folder", required=False, default="offramp-demo",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--orders", default=20_000, show_default=True, help="Orders in the demo warehouse.")
@click.option("--destination", default="meta", show_default=True,
              help="The destination whose job and emulator the demo runs (meta, google, ...).")
def demo(folder: Path, orders: int, destination: str) -> None:
    """Run a job end to end in a demo folder of its own (default ./offramp-demo): a demo
    warehouse, the saved job, the destination's local emulator, two runs. The Meta job
    unless --destination names another demo."""
    from plugins.meta.demo_data import build_demo_warehouse

    available = demos()
    if destination not in available:
        raise click.BadParameter(f"no demo for {destination!r}; demos: "
                                 f"{', '.join(sorted(available)) or 'none'}",
                                 param_hint="--destination")
    chosen = available[destination]
    created = demo_folder(folder, chosen.job, chosen.job_text())
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
    job = chosen.job
    with chosen.start() as emulator, temporary(emulator.env):
        echo(f"{chosen.label} emulator listening on {emulator.url}", err=True)
        first = run_job(project, job)
        echo(f"[bold]emulator[/]: {emulator.accepted()}")
        second = run_job(project, job, summary=False)
        echo(f"[bold]run again[/]: {second.counts.unchanged:,} events unchanged, "
             f"{second.counts.delivered:,} sent (the ledger remembers what {chosen.label} "
             "has)")
    echo(f"next: cd {folder} && offramp rejects {job} lists each rejected event with its "
         f"reason; offramp runs {job} shows the history")
    if not first.ok:
        raise SystemExit(1)
