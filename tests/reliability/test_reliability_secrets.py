"""The access token never appears in anything a run writes: stdout, stderr, log
records, the state file (every table, and its raw bytes), exception text. Checked
with --verbose, on success, on an auth failure, and on a crash."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from reliability_kit import TOKEN, GatedMeta, Shop, cli, offramp

from connector import hookimpl, registry
from plugins.meta.destination import MetaDestination


def assert_no_token_on_disk(shop: Shop) -> None:
    assert TOKEN not in shop.dump_state()
    for path in shop.root.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_auth_failure_with_verbose_in_a_real_process(shop: Shop, emu: GatedMeta) -> None:
    shop.write_orders(1500)
    shop.write_job(concurrency=1)
    emu.expire_token(TOKEN)
    done = offramp(shop, "--verbose", "run", "sync")
    assert done.returncode == 1
    assert "the access token is invalid or expired: set META_ACCESS_TOKEN" in done.stdout
    assert TOKEN not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    (run,) = shop.runs()
    assert run["status"] == "failed" and "set META_ACCESS_TOKEN" in run["error"]
    assert set(shop.ledger().values()) == {"failed"}  # the first request; the rest pending
    assert_no_token_on_disk(shop)


def test_success_and_reports_with_verbose(shop: Shop, emu: GatedMeta,
                                          caplog: pytest.LogCaptureFixture) -> None:
    shop.write_orders(1000)
    shop.write_job()
    caplog.set_level(logging.DEBUG)
    ran = cli(shop, "--verbose", "run", "sync")
    assert ran.exit_code == 0, ran.output + ran.stderr
    assert "delivered 1,000" in ran.output
    outputs = [ran.output, ran.stderr]
    for args in (["runs", "sync", "--format", "json"], ["rejects", "sync", "--format", "csv"],
                 ["preview", "sync", "--limit", "3"], ["validate", "sync"]):
        result = cli(shop, "--verbose", *args)
        assert result.exit_code == 0, result.output
        outputs += [result.output, result.stderr]
    assert any("urllib3" in r.name for r in caplog.records)  # the requests were logged
    assert TOKEN not in "\n".join(outputs) + caplog.text
    assert any(TOKEN in call.body.decode() for call in emu.calls)  # it was sent, though
    assert_no_token_on_disk(shop)


class CrashInDeliver(MetaDestination):
    """A destination with a bug that puts the token in an exception message."""

    name = "meta-crash-deliver"

    def deliver(self, batch):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"unexpected answer for token {self._token}")


class CrashInOpen(MetaDestination):
    """The same bug, while logging in: outside delivery, an internal error."""

    name = "meta-crash-open"

    def open(self, http):  # type: ignore[no-untyped-def]
        super().open(http)
        raise RuntimeError(f"login failed for token {self._token}")


class CrashingPlugin:
    @hookimpl
    def register_destinations(self, register):  # type: ignore[no-untyped-def]
        register(CrashInDeliver)
        register(CrashInOpen)


@pytest.fixture
def crashing(shop: Shop) -> Callable[[str], None]:
    """Register the crashing destinations; ``crashing(name)`` points the job at one."""
    registry.register(CrashingPlugin(), name="test-reliability-crashing")

    def use(name: str) -> None:
        shop.write_orders(2500)
        path = shop.write_job()
        path.write_text(path.read_text().replace('"meta"', f'"{name}"', 1))

    yield use
    registry.unregister("test-reliability-crashing")


def test_a_crash_while_delivering_stops_the_run_redacted(
        shop: Shop, emu: GatedMeta, crashing: Callable[[str], None],
        caplog: pytest.LogCaptureFixture) -> None:
    crashing("meta-crash-deliver")
    caplog.set_level(logging.DEBUG)
    result = cli(shop, "--verbose", "run", "sync")
    assert result.exit_code == 1
    message = ("the meta-crash-deliver destination failed unexpectedly: RuntimeError: "
               "unexpected answer for token ***")
    assert message in result.output
    assert TOKEN not in result.output + result.stderr + caplog.text
    (run,) = shop.runs()
    assert (run["status"], run["error"]) == ("failed", message)
    assert set(shop.ledger().values()) == {"failed"}  # pending for the next run
    assert_no_token_on_disk(shop)


def test_a_crash_outside_delivery_is_recorded_and_redacted(
        shop: Shop, emu: GatedMeta, crashing: Callable[[str], None],
        caplog: pytest.LogCaptureFixture) -> None:
    crashing("meta-crash-open")
    caplog.set_level(logging.DEBUG)
    result = cli(shop, "--verbose", "run", "sync")
    assert result.exit_code == 3
    assert "internal error: RuntimeError: login failed for token ***" in result.stderr
    assert "Traceback" in result.stderr  # --verbose shows where the bug is
    assert TOKEN not in result.output + result.stderr + caplog.text
    (run,) = shop.runs()  # recorded as failed, not left 'running'
    assert run["status"] == "failed"
    assert run["error"] == "internal error: RuntimeError: login failed for token ***"
    with pytest.raises(RuntimeError) as raised:  # called as a library: the same
        shop.run()
    assert TOKEN not in str(raised.value) and "***" in str(raised.value)
    assert [r["status"] for r in shop.runs()] == ["failed", "failed"]  # state still readable
    assert_no_token_on_disk(shop)
    assert Path(shop.project.lock_path("sync")).read_text() == ""  # the lock was let go
