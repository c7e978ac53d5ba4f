"""README command 1's job, end to end in a subprocess, as a user runs it."""
from __future__ import annotations

import os
import subprocess
import sys

import pyarrow.parquet as pq
import soundfile

from test_mux import video_duration
from vidmusician.synth.world import read_ground_truth


# A demo run's terminal output, less Ray Data's progress reports of the driver's stages (logged every
# 10 s, so their count grows on a slower machine): training's start and checkpoint lines, warnings and
# the summaries. Measured 103 lines for the debug demo (150 with the progress reports; the toy demo 98 /
# 174), and 3,257 with progress bars from inside the training workers.
DEMO_MAX_LINES = 130


def test_demo_job_runs_end_to_end(tmp_path):
    out = tmp_path / "demo"
    # A relative output, as in the README: Ray Train's workers run in another directory.
    proc = subprocess.run([sys.executable, "jobs/demo.py", "preset=debug", f"output={os.path.relpath(out)}"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "logging_progress.py" not in line]
    assert len(lines) <= DEMO_MAX_LINES, f"{len(lines)} lines of output:\n" + "\n".join(lines[:300])
    summary = proc.stdout.rstrip().splitlines()
    assert summary[-3].lstrip().startswith("score table:") and summary[-2].lstrip().startswith("review page:")
    assert "videos 6: ok 6, error 0" in proc.stdout
    assert "stage 1: 10 steps" in proc.stdout and "stage 2: 10 steps" in proc.stdout  # training summary
    assert (out / "train" / "adapters.safetensors").exists()  # the export the music was made with
    silent = read_ground_truth(str(out / "silent")).to_pylist()
    assert len(silent) == 6 and not any(r["has_audio"] for r in silent)
    (review,) = (out / "soundtracks").glob("mv-*/review/index.html")
    assert f"review page: {review}" in proc.stdout
    scores = {r["source_uri"]: r for r in pq.read_table(review.parent.parent / "scores.parquet").to_pylist()}
    assert len(scores) == 6 and all(r["status"] == "ok" for r in scores.values())
    for row in silent:
        made = scores[row["uri"]]
        info = soundfile.info(made["music_uri"])
        assert abs(info.frames / info.samplerate - row["duration_s"]) < 1e-3
        assert abs(video_duration(made["video_uri"]) - row["duration_s"]) < 0.05
    assert (out / "config.yaml").exists() and len(read_ground_truth(str(out / "world"))) == 6


def test_jobs_reject_a_bad_config_with_exit_code_2(tmp_path):
    proc = subprocess.run([sys.executable, "jobs/demo.py", "world.num_videoz=2"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2 and "world.num_videoz" in proc.stderr
