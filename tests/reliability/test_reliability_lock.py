"""One run of a job at a time: a second run of the same job is refused with a clear
message while the first is running; another job runs side by side."""

from __future__ import annotations

import os

from reliability_kit import GatedMeta, Shop, cli, spawn


def test_a_second_run_of_a_job_is_refused_while_another_job_runs(shop: Shop,
                                                                 emu: GatedMeta) -> None:
    shop.write_orders(2000)
    shop.write_job("sync")
    shop.write_job("other", dataset_id="9876543210")
    emu.hold_after(0, path="/v26.0/1234567890/")  # sync's requests wait; other's pass
    first = spawn(shop, "run", "sync", "--quiet")
    emu.wait_held(2)

    second = cli(shop, "run", "sync")
    assert second.exit_code == 1
    assert (f"error: job 'sync' is already running (pid {first.popen.pid}); wait for it to "
            "finish or stop it, then run again") in second.stderr
    history = cli(shop, "runs", "sync")  # the state file is the running job's
    assert history.exit_code == 1 and "is in use by another offramp command; try again when " \
        "it ends" in history.stderr

    other = shop.run("other")  # a different job, meanwhile: its own lock and state file
    assert other.status == "succeeded" and other.counts.delivered == 2000
    assert first.popen.poll() is None and emu.held == 2  # sync is still waiting on Meta
    emu.release()

    code, out, err = first.finish()
    assert code == 0, err
    assert "succeeded: run 1 of sync" in out
    assert [r["status"] for r in shop.runs("sync")] == ["succeeded"]  # the refused run left none
    assert shop.project.lock_path("sync").read_text() == ""
    assert os.path.exists(shop.project.state_path("other"))
    assert len(emu.events("1234567890")) == len(emu.events("9876543210")) == 2000
