"""Storage outages against the real S3 server (moto), on local Ray: the server stopped while a run is
under way, then started again; a bucket that is not there at all. No input gets a final error because
of the storage; the run completes or stops with exit 1; a rerun finishes everything."""
from __future__ import annotations

import os
import runpy
import signal
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from model_fixtures import FAST_FAILURE, debug_config
from vidmusician.cli import EXIT_FAILED, run_job
from vidmusician.faults import InfrastructureFailure
from vidmusician.soundtrack.pipeline import run_soundtrack
from vidmusician.storage import Storage, join_uri
from vidmusician.synth.world import write_world

ROOT = Path(__file__).parent.parent
OUTAGE_S = 8.0


def outcome_rows(output: Path) -> list[dict]:
    return [r for part in sorted(output.glob("*/outcomes/*.parquet")) for r in pq.read_table(part).to_pylist()]


@pytest.fixture
def videos_on_s3(ray_local, tmp_path):
    storage, bucket = Storage(), ray_local.new_bucket("outage")
    world = write_world(debug_config("world.num_videos=6", "world.with_audio=false", "world.seed=5"),
                        str(tmp_path / "world"))
    prefix = f"s3://{bucket}/videos"
    for row in world.to_pylist():
        storage.upload_file(row["uri"], join_uri(prefix, Path(row["uri"]).name))
    return ray_local, prefix, world.num_rows


@pytest.mark.timeout(1200)
def test_a_storage_outage_mid_run_loses_nothing(videos_on_s3, tmp_path):
    server, prefix, count = videos_on_s3
    output = tmp_path / "out"
    args = [f"input={prefix}", f"output={output}", "generation.batch_size=1", "soundtrack.flush_every=1"]
    stopped = threading.Event()

    def outage():  # once the first video is done: the server stops answering, then comes back
        deadline = time.time() + 600
        while not list(output.glob("*/outcomes/*.parquet")) and time.time() < deadline:
            time.sleep(0.05)
        os.kill(server.process.pid, signal.SIGSTOP)
        stopped.set()
        time.sleep(OUTAGE_S)
        os.kill(server.process.pid, signal.SIGCONT)

    thread = threading.Thread(target=outage, daemon=True)
    thread.start()
    try:
        try:
            first = run_soundtrack(debug_config(*args, *FAST_FAILURE, "retry.stop_after_not_done=2"))
            statuses = [r["status"] for r in first.table.to_pylist()]
        except InfrastructureFailure as err:  # stopping early is the other allowed outcome
            assert "in a row could not be processed" in str(err)
            statuses = None
    finally:
        thread.join(timeout=OUTAGE_S + 600)
        os.kill(server.process.pid, signal.SIGCONT)
    assert stopped.is_set()
    recorded = outcome_rows(output)
    assert "error" not in {r["status"] for r in recorded}, [r["reason"] for r in recorded if r["status"] == "error"]
    not_done = [r for r in recorded if r["status"] == "not_done"]
    assert statuses is None or "not_done" in statuses, "the outage must have hit the run"
    assert all(r["reason"].split(":")[0] in ("storage", "write", "decode") for r in not_done), not_done

    again = run_soundtrack(debug_config(*args))
    rows = again.table.to_pylist()
    assert len(rows) == count and {r["status"] for r in rows} == {"ok"}
    assert len(set(output.glob("*/soundtracks/*.mp4"))) == count  # outputs == inputs
    assert again.work["generated"] + again.work["reused"] + again.work["skipped"] == count


def test_an_unreachable_bucket_stops_the_job_early_with_exit_1(ray_local, tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    manifest.write_text("uri\n" + "".join(f"s3://vm-no-such-bucket-4242/v{i}.mp4\n" for i in range(12)))
    output = tmp_path / "out"
    job = runpy.run_path(str(ROOT / "jobs" / "soundtrack.py"))
    code = run_job("soundtrack", job["SUMMARY"], "", job["soundtrack"], argv=[
        "preset=debug", f"input={manifest}", f"output={output}", *FAST_FAILURE, "retry.stop_after_not_done=3"])
    assert code == EXIT_FAILED
    err = capsys.readouterr().err
    assert "3 inputs in a row could not be processed" in err and "bucket not found" in err, err
    recorded = outcome_rows(output)
    assert len(recorded) < 12 and {r["status"] for r in recorded} <= {"not_done"}
