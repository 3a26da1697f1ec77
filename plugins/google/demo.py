"""The Google demo: ``offramp demo --destination google``.

The meta plugin's ``offramp demo`` builds the demo warehouse and runs a registered demo
(:mod:`connector.kit.demos`); this one saves ``queries/google_offline_conversions.sql``
(``demo_job.sql``, the same text as the repository's saved example) and starts the Data
Manager emulator, whose test OAuth client the job's variables name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

from connector.kit.demos import Demo, DemoEmulator

JOB = "google_offline_conversions"


def job_text() -> str:
    return resources.files("plugins.google").joinpath("demo_job.sql").read_text("utf-8")


@contextmanager
def start_emulator() -> Iterator[DemoEmulator]:
    from plugins.google.emulator import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_REFRESH_TOKEN,
        GoogleEmulator,
    )

    with GoogleEmulator() as emulator:
        env = {"GOOGLE_DATAMANAGER_URL": emulator.url, "GOOGLE_TOKEN_URI": emulator.token_uri(),
               "GOOGLE_ADS_CLIENT_ID": DEFAULT_CLIENT_ID,
               "GOOGLE_ADS_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
               "GOOGLE_ADS_REFRESH_TOKEN": DEFAULT_REFRESH_TOKEN}

        def accepted() -> str:
            counts = emulator.counts
            return (f"accepted {counts['events_recorded']:,} events in "
                    f"{counts['requests_accepted']:,} requests, refused "
                    f"{counts['requests_rejected']:,} requests")

        yield DemoEmulator(emulator.url, env, accepted)


DEMO = Demo(name="google", label="Google", job=JOB, job_text=job_text, start=start_emulator)
